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

// stateNameMax bounds the spellings stateOf can know ("MIB_TCP_STATE_" and
// the longest name, "BOUND_INACTIVE", fit): a longer name is none.
const stateNameMax = 48

// normalizeStateName folds s into the key space of stateOf: upper case,
// '-' and ' ' turned into '_', and any "MIB_TCP_STATE_" prefix removed. It
// builds the result in buf and returns it, or false when s is longer than
// buf (no state's name is).
func normalizeStateName(s string, buf *[stateNameMax]byte) ([]byte, bool) {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 { // Unicode case mapping (rare): as strings.ToUpper does it
			s = strings.ToUpper(s)
			break
		}
	}
	if len(s) > len(buf) {
		return nil, false
	}
	b := buf[:len(s)]
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '-' || c == ' ':
			b[i] = '_'
		case 'a' <= c && c <= 'z':
			b[i] = c - ('a' - 'A')
		default:
			b[i] = c
		}
	}
	const mib = "MIB_TCP_STATE_"
	if len(b) >= len(mib) && string(b[:len(mib)]) == mib {
		b = b[len(mib):]
	}
	return b, true
}

// stateOf resolves a normalized name (normalizeStateName): the canonical
// names with '_' for '-', and the other spellings ParseState accepts.
func stateOf(n []byte) (State, bool) {
	switch string(n) {
	case "CLOSED",
		"CLOSE", "UNCONN", "BOUND_INACTIVE": // Linux kernel, ss, netstat
		return StateClosed, true
	case "LISTEN",
		"LISTENING": // Windows netstat
		return StateListen, true
	case "SYN_SENT":
		return StateSynSent, true
	case "SYN_RECEIVED",
		"SYN_RCVD",                 // the MIB member's name
		"SYN_RECV", "NEW_SYN_RECV": // Linux kernel, ss, netstat
		return StateSynReceived, true
	case "ESTABLISHED",
		"ESTAB": // the MIB member's name, ss
		return StateEstablished, true
	case "FIN_WAIT_1",
		"FIN_WAIT1": // the MIB member's name, Linux
		return StateFinWait1, true
	case "FIN_WAIT_2",
		"FIN_WAIT2":
		return StateFinWait2, true
	case "CLOSE_WAIT":
		return StateCloseWait, true
	case "CLOSING":
		return StateClosing, true
	case "LAST_ACK":
		return StateLastAck, true
	case "TIME_WAIT":
		return StateTimeWait, true
	case "DELETE_TCB",
		"DELETE": // gopsutil's name for it on Windows
		return StateDeleteTCB, true
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
	// A decimal value: only what starts with a digit can be one (and no
	// name does), so a name costs no failed ParseUint and its error.
	if t := strings.TrimSpace(s); t != "" && '0' <= t[0] && t[0] <= '9' {
		if n, err := strconv.ParseUint(t, 10, 8); err == nil {
			if st := State(n); st.Valid() {
				return st, nil
			}
			return 0, fmt.Errorf("%w: %q is not a MIB_TCP_STATE value (1..12)", ErrInvalidState, s)
		}
	}
	var buf [stateNameMax]byte
	if n, ok := normalizeStateName(s, &buf); ok {
		if st, ok := stateOf(n); ok {
			return st, nil
		}
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
