package linux

import "github.com/tcptable/tcptable"

// The kernel's TCP states (include/net/tcp_states.h). They are what
// sock_diag and /proc/net/tcp report and what Connection.OSState keeps.
const (
	tcpEstablished   = 1
	tcpSynSent       = 2
	tcpSynRecv       = 3
	tcpFinWait1      = 4
	tcpFinWait2      = 5
	tcpTimeWait      = 6
	tcpClose         = 7
	tcpCloseWait     = 8
	tcpLastAck       = 9
	tcpListen        = 10
	tcpClosing       = 11
	tcpNewSynRecv    = 12
	tcpBoundInactive = 13
	tcpMaxState      = tcpBoundInactive
)

// kernelStates maps each kernel state code to the tcptable State.
// NEW_SYN_RECV (a request socket) is SYN-RECEIVED, as ss and Windows show
// it; BOUND_INACTIVE (bound, not listening or connected) is CLOSED, the
// state such a socket is in as far as TCP is concerned.
var kernelStates = [...]tcptable.State{
	tcpEstablished:   tcptable.StateEstablished,
	tcpSynSent:       tcptable.StateSynSent,
	tcpSynRecv:       tcptable.StateSynReceived,
	tcpFinWait1:      tcptable.StateFinWait1,
	tcpFinWait2:      tcptable.StateFinWait2,
	tcpTimeWait:      tcptable.StateTimeWait,
	tcpClose:         tcptable.StateClosed,
	tcpCloseWait:     tcptable.StateCloseWait,
	tcpLastAck:       tcptable.StateLastAck,
	tcpListen:        tcptable.StateListen,
	tcpClosing:       tcptable.StateClosing,
	tcpNewSynRecv:    tcptable.StateSynReceived,
	tcpBoundInactive: tcptable.StateClosed,
}

// stateFromKernel maps a kernel state code; ok is false for a code the
// kernel does not define (the row is then reported with State 0 rather
// than guessed).
func stateFromKernel(code uint8) (st tcptable.State, ok bool) {
	if int(code) < len(kernelStates) && kernelStates[code] != 0 {
		return kernelStates[code], true
	}
	return 0, false
}

// undefinedStates holds the idiag_states bits of the codes the kernel does
// not define (0, and 14 to 31): rows in such a state are reported with
// State 0 and the code in OSState, and match what State 0 matches.
const undefinedStates = ^uint32(1<<(tcpMaxState+1)-1) | 1

// stateMask returns the idiag_states bitmask (bit N set = kernel state N)
// of every kernel state whose rows q can match, including the undefined
// codes when q matches State 0 (no States, and not ClassListeners).
func stateMask(q tcptable.Query) uint32 {
	var m uint32
	for code, st := range kernelStates {
		if st != 0 && q.MatchState(st) {
			m |= 1 << code
		}
	}
	if q.MatchState(0) {
		m |= undefinedStates
	}
	return m
}

// stateWanted reports whether a row in kernel state code can match the
// query whose stateMask is mask. A code beyond the mask's 32 bits is
// undefined: wanted when the undefined codes are.
func stateWanted(mask uint32, code uint8) bool {
	if code >= 32 {
		return mask&undefinedStates == undefinedStates
	}
	return mask&(1<<code) != 0
}
