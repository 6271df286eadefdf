package tcptable

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// connJSON is the wire form of a Connection. Its field order is the key
// order of the encoding; the keys are documented on Connection.MarshalJSON.
type connJSON struct {
	State            State          `json:"state"`
	Local            netip.AddrPort `json:"local"`
	Remote           netip.AddrPort `json:"remote"`
	PID              uint32         `json:"pid"`
	Process          string         `json:"process"`
	Path             string         `json:"path"`
	Service          string         `json:"service,omitempty"`
	Created          *time.Time     `json:"created"`
	Family           string         `json:"family"`
	DualStack        bool           `json:"dual_stack"`
	OSState          uint32         `json:"os_state"`
	OwnerStatus      OwnerStatus    `json:"owner_status"`
	ModuleStatus     OwnerStatus    `json:"module_status"`
	ModuleSource     ModuleSource   `json:"module_source"`
	OtherPIDs        []uint32       `json:"other_pids"`
	UID              *uint32        `json:"uid"`
	Inode            uint64         `json:"inode"`
	Interface        uint32         `json:"interface"`
	FirstSeen        *time.Time     `json:"first_seen"`
	Stats            *statsJSON     `json:"stats"`
	StatsStatus      StatsStatus    `json:"stats_status"`
	NetNS            uint64         `json:"netns"`
	NetNSName        string         `json:"netns_name"`
	Container        string         `json:"container"`
	OwningModuleInfo []uint64       `json:"owning_module_info,omitempty"`
}

// MarshalJSON encodes c as one JSON object, losslessly, with these keys in
// this order:
//
//	state               State name ("ESTABLISHED"; "State(N)" out of range)
//	local, remote       netip.AddrPort text ("127.0.0.1:8080", "[::1]:443", "[fe80::1%eth0]:22")
//	pid                 number, 0 when unknown (see owner_status)
//	process, path       Module.Name and Module.Path, "" when unknown
//	service             Module.Service, only when present (Windows services)
//	created             RFC 3339 (nanoseconds when present), null when the OS records none
//	family              "ipv4" or "ipv6" (derived from local; ignored when decoding)
//	dual_stack          true for an IPv6 socket on :: that accepts IPv4 too (IPV6_V6ONLY off)
//	os_state            the OS's own state code
//	owner_status        OwnerStatus name ("ok", "permission-denied", ...)
//	module_status       OwnerStatus name for the module
//	module_source       ModuleSource name ("procfs", "owner-module", ...)
//	other_pids          array of further owning PIDs, [] when none
//	uid                 number, null when unknown (HasUID false)
//	inode               Connection.Socket (the socket inode on Linux), 0 when unknown
//	interface           bound interface index, 0 when none
//	first_seen          RFC 3339, null when no Watch stamped the row
//	stats               object with bytes_sent, bytes_received, segments_sent,
//	                    segments_received, retransmits, rtt_us, since (only
//	                    when set) and the rest of Stats in snake case with
//	                    units (rtt_var_us, mss_bytes, delivery_rate_bytes_per_sec,
//	                    since_last_send_ms, ...; docs/model.md lists them);
//	                    null when not requested or not available
//	stats_status        StatsStatus name ("ok", "partial", "not-requested", ...)
//	netns               network namespace inode, 0 when unknown
//	netns_name          its name under /run/netns, "" when none
//	container           container or pod ID from the owner's cgroup, "" when none
//	owning_module_info  the raw Windows OwningModuleInfo (16 numbers), only when present
//
// The command-line tool's --json output and the mock provider's snapshots
// use this encoding. UnmarshalJSON reverses it.
func (c Connection) MarshalJSON() ([]byte, error) {
	w := connJSON{
		State:        c.State,
		Local:        c.Local,
		Remote:       c.Remote,
		PID:          c.PID,
		Process:      c.Module.Name,
		Path:         c.Module.Path,
		Service:      c.Module.Service,
		Created:      timeOrNil(c.Created),
		DualStack:    c.DualStack,
		OSState:      c.OSState,
		OwnerStatus:  c.OwnerStatus,
		ModuleStatus: c.ModuleStatus,
		ModuleSource: c.ModuleSource,
		OtherPIDs:    c.OtherPIDs,
		Inode:        c.Socket,
		Interface:    c.Interface,
		FirstSeen:    timeOrNil(c.FirstSeen),
		Stats:        c.Stats.toJSON(),
		StatsStatus:  c.StatsStatus,
		NetNS:        c.NetNS,
		NetNSName:    c.NetNSName,
		Container:    c.Container,
	}
	if c.OwningModuleInfo != nil {
		w.OwningModuleInfo = c.OwningModuleInfo[:]
	}
	if c.Local.IsValid() {
		w.Family = c.Family().String()
	}
	if w.OtherPIDs == nil {
		w.OtherPIDs = []uint32{}
	}
	if c.HasUID {
		w.UID = &c.UID
	}
	return json.Marshal(&w)
}

// UnmarshalJSON decodes the object MarshalJSON produces. Missing keys leave
// the zero value (an empty object decodes to the zero Connection); unknown
// keys are ignored; "family" is derived from "local" and not read. An empty
// other_pids array decodes to nil. A malformed value is an error that wraps
// ErrInvalid and says which value was wrong.
func (c *Connection) UnmarshalJSON(b []byte) error {
	var w connJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return invalidJSONError{"connection", err}
	}
	*c = Connection{
		State:        w.State,
		Local:        w.Local,
		Remote:       w.Remote,
		PID:          w.PID,
		Module:       Module{Name: w.Process, Path: w.Path, Service: w.Service},
		DualStack:    w.DualStack,
		OSState:      w.OSState,
		OwnerStatus:  w.OwnerStatus,
		ModuleStatus: w.ModuleStatus,
		ModuleSource: w.ModuleSource,
		Socket:       w.Inode,
		Interface:    w.Interface,
		Stats:        w.Stats.stats(),
		StatsStatus:  w.StatsStatus,
		NetNS:        w.NetNS,
		NetNSName:    w.NetNSName,
		Container:    w.Container,
	}
	if w.OwningModuleInfo != nil {
		if len(w.OwningModuleInfo) != 16 {
			return invalidJSONError{"connection", fmt.Errorf("owning_module_info has %d numbers, want 16", len(w.OwningModuleInfo))}
		}
		c.OwningModuleInfo = (*[16]uint64)(w.OwningModuleInfo)
	}
	if len(w.OtherPIDs) > 0 {
		c.OtherPIDs = w.OtherPIDs
	}
	if w.Created != nil {
		c.Created = *w.Created
	}
	if w.FirstSeen != nil {
		c.FirstSeen = *w.FirstSeen
	}
	if w.UID != nil {
		c.UID, c.HasUID = *w.UID, true
	}
	return nil
}

// timeOrNil returns nil for the zero Time (encoded as null), else &t.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// invalidJSONError is a decoding error that also wraps ErrInvalid.
type invalidJSONError struct {
	what string // "connection" or "event"
	err  error
}

func (e invalidJSONError) Error() string {
	return "tcptable: invalid " + e.what + " JSON: " + e.err.Error()
}
func (e invalidJSONError) Unwrap() []error { return []error{e.err, ErrInvalid} }
