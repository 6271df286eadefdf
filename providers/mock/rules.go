package mock

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/tcptable/tcptable"
)

// checkRow reports the first way in which c, decoded from the snapshot
// object raw, breaks the model that every provider's rows follow, quoting
// the offending values as the snapshot spells them. It returns nil for a
// row a real provider could report. A status a snapshot leaves out
// ("unknown") is accepted where Add completes it.
func checkRow(c *tcptable.Connection, raw map[string]json.RawMessage) error {
	for _, check := range [...]func(*tcptable.Connection, map[string]json.RawMessage) error{
		checkEnums, checkAddrs, checkOwner, checkModule, checkExtras,
	} {
		if err := check(c, raw); err != nil {
			return fmt.Errorf("%w: %w", err, tcptable.ErrInvalid)
		}
	}
	return nil
}

// quoted returns the snapshot's own text for key, or "(missing)".
func quoted(raw map[string]json.RawMessage, key string) string {
	if v, ok := raw[key]; ok {
		return string(v)
	}
	return "(missing)"
}

// checkEnums: every state and status is one the model defines.
func checkEnums(c *tcptable.Connection, raw map[string]json.RawMessage) error {
	switch {
	case !c.State.Valid():
		return fmt.Errorf("state %s is not a MIB_TCP_STATE value (1..12)", quoted(raw, "state"))
	case c.OwnerStatus > tcptable.OwnerNotSupported:
		return fmt.Errorf("owner_status %s is not an OwnerStatus", quoted(raw, "owner_status"))
	case c.ModuleStatus > tcptable.OwnerNotSupported:
		return fmt.Errorf("module_status %s is not an OwnerStatus", quoted(raw, "module_status"))
	case c.ModuleSource > tcptable.SourceSynthetic:
		return fmt.Errorf("module_source %s is not a ModuleSource", quoted(raw, "module_source"))
	case c.StatsStatus > tcptable.StatsNotSupported:
		return fmt.Errorf("stats_status %s is not a StatsStatus", quoted(raw, "stats_status"))
	}
	return nil
}

// checkAddrs: one family on both ends, a local port, and a remote end
// exactly where the state has one.
func checkAddrs(c *tcptable.Connection, raw map[string]json.RawMessage) error {
	local, remote := quoted(raw, "local"), quoted(raw, "remote")
	switch {
	case c.Local.Port() == 0:
		return fmt.Errorf("local %s has port 0", local)
	case c.Local.Addr().Is4() != c.Remote.Addr().Is4():
		return fmt.Errorf("local %s and remote %s are of different families", local, remote)
	case c.Remote.Addr().IsUnspecified() != (c.Remote.Port() == 0):
		return fmt.Errorf("remote %s: want an address and a port, or the unspecified address and port 0 (no remote end)", remote)
	case c.State == tcptable.StateListen && c.Remote.Port() != 0:
		return fmt.Errorf("remote %s: a listener has no remote end (the unspecified address and port 0)", remote)
	case c.Remote.Port() == 0 && connected(c.State):
		return fmt.Errorf("remote %s: a %v row has a remote end", remote, c.State)
	}
	if f, ok := raw["family"]; ok && string(f) != `"`+c.Family().String()+`"` {
		return fmt.Errorf("family %s does not match local %s (%v)", f, local, c.Family())
	}
	if c.DualStack && (c.Family() != tcptable.IPv6 || !c.Local.Addr().IsUnspecified()) {
		return fmt.Errorf("dual_stack true with local %s: only an IPv6 socket bound to :: can be dual stack", local)
	}
	return nil
}

// connected reports whether a row in state s always has a remote end:
// every state but LISTEN, CLOSED (a socket that is only bound) and
// DELETE-TCB.
func connected(s tcptable.State) bool {
	return s != tcptable.StateListen && s != tcptable.StateClosed && s != tcptable.StateDeleteTCB
}

// checkOwner: a PID exactly when the owner is known; further owners only
// beside a PID, ascending, without it.
func checkOwner(c *tcptable.Connection, raw map[string]json.RawMessage) error {
	switch {
	case c.PID != 0 && c.OwnerStatus != tcptable.OwnerOK && c.OwnerStatus != tcptable.OwnerUnknown:
		return fmt.Errorf("pid %d with owner_status %s: a row with a PID has owner_status \"ok\"", c.PID, quoted(raw, "owner_status"))
	case c.PID == 0 && c.OwnerStatus == tcptable.OwnerOK:
		return fmt.Errorf("owner_status %s with pid %s: a known owner has a PID", quoted(raw, "owner_status"), quoted(raw, "pid"))
	case c.PID == 0 && len(c.OtherPIDs) > 0:
		return fmt.Errorf("other_pids %s without a pid", quoted(raw, "other_pids"))
	case !slices.IsSorted(c.OtherPIDs) || slices.Contains(c.OtherPIDs, c.PID) || len(slices.Compact(slices.Clone(c.OtherPIDs))) != len(c.OtherPIDs):
		return fmt.Errorf("other_pids %s with pid %d: want further owners in ascending order, each once, without the pid", quoted(raw, "other_pids"), c.PID)
	}
	return nil
}

// checkModule: a module exactly when it is known.
func checkModule(c *tcptable.Connection, raw map[string]json.RawMessage) error {
	switch {
	case !c.Module.IsZero() && c.ModuleStatus != tcptable.OwnerOK && c.ModuleStatus != tcptable.OwnerUnknown:
		return fmt.Errorf("process %s, path %s with module_status %s: a row with a module has module_status \"ok\"",
			quoted(raw, "process"), quoted(raw, "path"), quoted(raw, "module_status"))
	case c.Module.IsZero() && c.ModuleStatus == tcptable.OwnerOK:
		return fmt.Errorf("module_status %s without a process or path", quoted(raw, "module_status"))
	case c.Module.IsZero() && c.ModuleSource != tcptable.SourceNone:
		return fmt.Errorf("module_source %s without a process or path", quoted(raw, "module_source"))
	}
	return nil
}

// checkExtras: the namespace name only with its namespace.
func checkExtras(c *tcptable.Connection, raw map[string]json.RawMessage) error {
	if c.NetNSName != "" && c.NetNS == 0 {
		return fmt.Errorf("netns_name %s without a netns", quoted(raw, "netns_name"))
	}
	return nil
}
