package metrics

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tcptable/tcptable"
)

// numStates is the number of state label values: index 0 is "unknown" (a
// State outside 1..12), 1..12 the MIB_TCP_STATE values.
const numStates = int(tcptable.StateDeleteTCB) + 1

// stateLabels are the state label values by State: the state's name in
// lower case with hyphens as underscores, as node_exporter spells
// node_tcp_connection_states ("time_wait", "syn_received", "fin_wait_1").
var stateLabels = func() (l [numStates]string) {
	l[0] = "unknown"
	for s := tcptable.StateClosed; s <= tcptable.StateDeleteTCB; s++ {
		l[s] = strings.ToLower(strings.ReplaceAll(s.String(), "-", "_"))
	}
	return l
}()

// stateIndex returns s's index in stateLabels: 0 for a value outside 1..12.
func stateIndex(s tcptable.State) int {
	if !s.Valid() {
		return 0
	}
	return int(s)
}

// familyIndex returns 0 for IPv4 rows and 1 for IPv6 rows, the index in
// familyLabels.
func familyIndex(c *tcptable.Connection) int {
	if c.Family() == tcptable.IPv4 {
		return 0
	}
	return 1
}

var familyLabels = [2]string{"ipv4", "ipv6"}

// The process label values that name no process. Every per-process series
// may carry them besides the top N process names.
const (
	// processOther sums every process outside the top N.
	processOther = "other"
	// processKernel: rows the kernel owns (TIME-WAIT, orphans).
	processKernel = "[kernel]"
	// processHidden: rows whose owner the exporter may not see.
	processHidden = "[hidden]"
	// processUnknown: rows without a process name for any other reason.
	processUnknown = "[unknown]"
)

// owner is how rows are grouped by process before they are labelled: the
// raw Module.Name, or one of the reserved buckets (name empty).
type owner struct {
	name     string
	reserved string // processKernel, processHidden or processUnknown; "" for a named process
}

// ownerOf returns the process c is counted under.
func ownerOf(c *tcptable.Connection) owner {
	switch {
	case c.Module.Name != "":
		return owner{name: c.Module.Name}
	case c.OwnerStatus == tcptable.OwnerKernel:
		return owner{reserved: processKernel}
	case c.OwnerStatus == tcptable.OwnerPermissionDenied || c.ModuleStatus == tcptable.OwnerPermissionDenied:
		return owner{reserved: processHidden}
	}
	return owner{reserved: processUnknown}
}

// label returns o's process label value.
func (o owner) label() string {
	if o.reserved != "" {
		return o.reserved
	}
	return processLabel(o.name)
}

// processLabel returns the label value for a process name: the name itself
// when it is printable UTF-8 and not one of the reserved values, otherwise
// the name Go-quoted (`"other"`, `"evil\x1b[2J"`), so that no control byte
// reaches a terminal showing the exposition and no process poses as a
// reserved bucket.
func processLabel(name string) string {
	if isReserved(name) {
		return strconv.Quote(name)
	}
	return labelValue(name)
}

// labelValue returns s when it is printable UTF-8, otherwise s Go-quoted.
func labelValue(s string) string {
	if printable(s) {
		return s
	}
	return strconv.Quote(s)
}

// isReserved reports whether s is a reserved process label value.
func isReserved(s string) bool {
	switch s {
	case processOther, processKernel, processHidden, processUnknown:
		return true
	}
	return false
}

// printable reports whether s is valid UTF-8 made of printable characters
// only (spaces included).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b >= 0x7f {
			return printableUTF8(s[i:])
		}
	}
	return true
}

func printableUTF8(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}
