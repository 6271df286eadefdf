package tcptable

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// State is the state of a TCP endpoint. Its numeric values are exactly the
// Windows MIB_TCP_STATE values (1..12), which follow RFC 793's state diagram
// plus DELETE-TCB. Every provider maps its OS's own codes into State and
// keeps the original code in Connection.OSState.
//
// The zero value is not a valid state; Valid reports whether a State is one
// of the twelve defined values.
type State uint8

// The MIB_TCP_STATE values.
const (
	StateClosed      State = 1  // MIB_TCP_STATE_CLOSED
	StateListen      State = 2  // MIB_TCP_STATE_LISTEN
	StateSynSent     State = 3  // MIB_TCP_STATE_SYN_SENT
	StateSynReceived State = 4  // MIB_TCP_STATE_SYN_RCVD
	StateEstablished State = 5  // MIB_TCP_STATE_ESTAB
	StateFinWait1    State = 6  // MIB_TCP_STATE_FIN_WAIT1
	StateFinWait2    State = 7  // MIB_TCP_STATE_FIN_WAIT2
	StateCloseWait   State = 8  // MIB_TCP_STATE_CLOSE_WAIT
	StateClosing     State = 9  // MIB_TCP_STATE_CLOSING
	StateLastAck     State = 10 // MIB_TCP_STATE_LAST_ACK
	StateTimeWait    State = 11 // MIB_TCP_STATE_TIME_WAIT
	StateDeleteTCB   State = 12 // MIB_TCP_STATE_DELETE_TCB
)

// ErrInvalidState is wrapped by every error ParseState and
// State.UnmarshalText return.
var ErrInvalidState = errors.New("tcptable: invalid TCP state")

// stateNames holds the canonical (RFC 793) name of each state, indexed by value.
var stateNames = [...]string{
	StateClosed:      "CLOSED",
	StateListen:      "LISTEN",
	StateSynSent:     "SYN-SENT",
	StateSynReceived: "SYN-RECEIVED",
	StateEstablished: "ESTABLISHED",
	StateFinWait1:    "FIN-WAIT-1",
	StateFinWait2:    "FIN-WAIT-2",
	StateCloseWait:   "CLOSE-WAIT",
	StateClosing:     "CLOSING",
	StateLastAck:     "LAST-ACK",
	StateTimeWait:    "TIME-WAIT",
	StateDeleteTCB:   "DELETE-TCB",
}

// stateAliases maps every accepted spelling, upper-cased with '-' and ' '
// turned into '_' and any "MIB_TCP_STATE_" prefix removed, to its State.
// Canonical names are added by normalizing stateNames, so only the extra
// spellings are listed here.
var stateAliases = map[string]State{
	// MIB member names (after the prefix is removed).
	"SYN_RCVD":  StateSynReceived,
	"ESTAB":     StateEstablished,
	"FIN_WAIT1": StateFinWait1,
	"FIN_WAIT2": StateFinWait2,
	// Linux kernel, ss and netstat spellings.
	"SYN_RECV":       StateSynReceived,
	"NEW_SYN_RECV":   StateSynReceived,
	"CLOSE":          StateClosed,
	"UNCONN":         StateClosed,
	"BOUND_INACTIVE": StateClosed,
	"ESTABLISHED":    StateEstablished,
	"LISTEN":         StateListen,
	// Windows netstat spellings.
	"LISTENING":    StateListen,
	"SYN_RECEIVED": StateSynReceived,
	"FIN_WAIT_1":   StateFinWait1,
	"FIN_WAIT_2":   StateFinWait2,
	"DELETE_TCB":   StateDeleteTCB,
	// gopsutil's name for MIB_TCP_STATE_DELETE_TCB on Windows.
	"DELETE": StateDeleteTCB,
	// BSD and macOS netstat spellings (as gopsutil reports them).
	"CLOSE_WAIT": StateCloseWait,
	"LAST_ACK":   StateLastAck,
	"TIME_WAIT":  StateTimeWait,
	"SYN_SENT":   StateSynSent,
}

// normalizeStateName folds s into the key space of stateAliases.
func normalizeStateName(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.NewReplacer("-", "_", " ", "_").Replace(s)
	return strings.TrimPrefix(s, "MIB_TCP_STATE_")
}

// lookupState resolves a normalized name.
func lookupState(n string) (State, bool) {
	if st, ok := stateAliases[n]; ok {
		return st, true
	}
	for v, name := range stateNames {
		if name != "" && normalizeStateName(name) == n {
			return State(v), true
		}
	}
	return 0, false
}

// ParseState parses a state name. It accepts, case-insensitively and with
// '-', '_' or ' ' as separators:
//
//   - the canonical names that String returns ("SYN-RECEIVED", "TIME-WAIT");
//   - the MIB names, with or without the MIB_TCP_STATE_ prefix
//     ("MIB_TCP_STATE_ESTAB", "ESTAB", "SYN_RCVD", "DELETE_TCB");
//   - the Linux kernel, ss and netstat spellings ("SYN_RECV", "SYN-RECV",
//     "FIN_WAIT1", "CLOSE", "UNCONN");
//   - the Windows netstat spellings ("LISTENING", "SYN_RECEIVED", "FIN_WAIT_1");
//   - the decimal MIB value ("5").
//
// Anything else is an error that wraps ErrInvalidState and quotes s.
func ParseState(s string) (State, error) {
	if n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8); err == nil {
		if st := State(n); st.Valid() {
			return st, nil
		}
		return 0, fmt.Errorf("%w: %q is not a MIB_TCP_STATE value (1..12)", ErrInvalidState, s)
	}
	if st, ok := lookupState(normalizeStateName(s)); ok {
		return st, nil
	}
	return 0, fmt.Errorf("%w: %q is not a TCP state name", ErrInvalidState, s)
}

// Valid reports whether s is one of the twelve MIB_TCP_STATE values.
func (s State) Valid() bool { return s >= StateClosed && s <= StateDeleteTCB }

// String returns the RFC 793 name ("ESTABLISHED", "SYN-RECEIVED", ...), or
// "State(N)" for a value outside 1..12.
func (s State) String() string {
	return nameOf(stateNames[:], "State", uint8(s))
}

// MarshalText implements encoding.TextMarshaler: it returns String's result,
// so JSON shows the name. Out-of-range values marshal as "State(N)" rather
// than failing, so that a snapshot holding an odd row can still be saved.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. It accepts every spelling
// ParseState accepts and, to round-trip MarshalText, "State(N)".
func (s *State) UnmarshalText(b []byte) error {
	t := string(b)
	if inner, ok := cutWrapped(t, "State(", ")"); ok {
		n, err := strconv.ParseUint(inner, 10, 8)
		if err != nil {
			return fmt.Errorf("%w: %q", ErrInvalidState, t)
		}
		*s = State(n)
		return nil
	}
	st, err := ParseState(t)
	if err != nil {
		return err
	}
	*s = st
	return nil
}
