package main

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcptable/tcptable"
)

// column is one field of a row as --csv prints it and --sort orders it.
// Keys are the keys of the JSON encoding (tcptable.Connection.MarshalJSON),
// in the same order; a test holds them together.
type column struct {
	key   string
	text  func(c *tcptable.Connection) string // the CSV cell
	cmp   func(a, b *tcptable.Connection) int // the --sort order
	stats bool                                // a Stats member (statsColumns): in CSV only with -i
}

// conn shortens the column definitions.
type conn = tcptable.Connection

// numCol, strCol, timeCol and addrCol make a column that prints and sorts
// a numeric, text, time or address field.
func numCol(key string, f func(c *conn) uint64) column {
	return column{key: key,
		text: func(c *conn) string { return strconv.FormatUint(f(c), 10) },
		cmp:  func(a, b *conn) int { return cmp.Compare(f(a), f(b)) }}
}

func strCol(key string, f func(c *conn) string) column {
	return column{key: key, text: f, cmp: func(a, b *conn) int { return strings.Compare(f(a), f(b)) }}
}

func timeCol(key string, f func(c *conn) time.Time) column {
	return column{key: key,
		text: func(c *conn) string { return formatTime(f(c)) },
		cmp:  func(a, b *conn) int { return f(a).Compare(f(b)) }}
}

func addrCol(key string, f func(c *conn) netip.AddrPort) column {
	return column{key: key,
		text: func(c *conn) string { return addrText(f(c)) },
		cmp:  func(a, b *conn) int { return f(a).Compare(f(b)) }}
}

// columns returns every column, in JSON key order.
func columns() []column {
	state := numCol("state", func(c *conn) uint64 { return uint64(c.State) })
	state.text = func(c *conn) string { return c.State.String() }
	uid := numCol("uid", func(c *conn) uint64 {
		if !c.HasUID {
			return 0
		}
		return uint64(c.UID) + 1 // unknown sorts first
	})
	uid.text = func(c *conn) string {
		if !c.HasUID {
			return ""
		}
		return strconv.FormatUint(uint64(c.UID), 10)
	}
	return []column{
		state,
		addrCol("local", func(c *conn) netip.AddrPort { return c.Local }),
		addrCol("remote", func(c *conn) netip.AddrPort { return c.Remote }),
		numCol("pid", func(c *conn) uint64 { return uint64(c.PID) }),
		strCol("process", func(c *conn) string { return c.Module.Name }),
		strCol("path", func(c *conn) string { return c.Module.Path }),
		strCol("service", func(c *conn) string { return c.Module.Service }),
		timeCol("created", func(c *conn) time.Time { return c.Created }),
		strCol("family", func(c *conn) string { return c.Family().String() }),
		strCol("dual_stack", func(c *conn) string { return strconv.FormatBool(c.DualStack) }),
		numCol("os_state", func(c *conn) uint64 { return uint64(c.OSState) }),
		strCol("owner_status", func(c *conn) string { return c.OwnerStatus.String() }),
		strCol("module_status", func(c *conn) string { return c.ModuleStatus.String() }),
		strCol("module_source", func(c *conn) string { return c.ModuleSource.String() }),
		strCol("other_pids", func(c *conn) string { return joinUints(c.OtherPIDs) }),
		uid,
		numCol("inode", func(c *conn) uint64 { return c.Socket }),
		numCol("interface", func(c *conn) uint64 { return uint64(c.Interface) }),
		timeCol("first_seen", func(c *conn) time.Time { return c.FirstSeen }),
		strCol("stats_status", func(c *conn) string { return c.StatsStatus.String() }),
		numCol("netns", func(c *conn) uint64 { return c.NetNS }),
		strCol("netns_name", func(c *conn) string { return c.NetNSName }),
		strCol("container", func(c *conn) string { return c.Container }),
		strCol("owning_module_info", func(c *conn) string {
			if c.OwningModuleInfo == nil {
				return ""
			}
			return joinUints(c.OwningModuleInfo[:])
		}),
	}
}

// addrText is the exact text of an address, "" for none.
func addrText(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// formatTime is RFC 3339 in UTC with the nanoseconds the OS gave, "" for the
// zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// joinUints joins numbers with spaces.
func joinUints[T uint32 | uint64](ns []T) string {
	var b strings.Builder
	for i, n := range ns {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatUint(uint64(n), 10))
	}
	return b.String()
}

// sortKey is a --sort choice: a column, optionally descending.
type sortKey struct {
	col  *column // nil: the default order
	desc bool
}

// parseSortKey parses "pid", "-pid" (descending), "first-seen" ...: any
// column key, with '-' or '_' inside.
func parseSortKey(s string) (sortKey, error) {
	k := sortKey{}
	name := s
	if rest, ok := strings.CutPrefix(name, "-"); ok {
		name, k.desc = rest, true
	}
	name = strings.ReplaceAll(strings.ToLower(name), "-", "_")
	cols := allColumns()
	for i := range cols {
		if cols[i].key == name {
			k.col = &cols[i]
			return k, nil
		}
	}
	var keys []string
	for _, c := range cols {
		if !c.stats {
			keys = append(keys, c.key)
		}
	}
	return k, usagef("bad --sort %q: want one of %s, or a stats_ column of --csv -i (prefix - to reverse)", s, strings.Join(keys, ", "))
}

// sortRows orders rows by k and then by identity (local, remote, socket,
// PID), so that the order is total and the output reproducible.
func sortRows(rows []tcptable.Connection, k sortKey) {
	slices.SortStableFunc(rows, func(a, b tcptable.Connection) int {
		if k.col != nil {
			c := k.col.cmp(&a, &b)
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmpIdentity(&a, &b)
	})
}

// cmpIdentity is the default order: namespace, local, remote, then socket
// and PID.
func cmpIdentity(a, b *conn) int {
	return cmp.Or(cmp.Compare(a.NetNS, b.NetNS), a.Local.Compare(b.Local), a.Remote.Compare(b.Remote),
		cmp.Compare(a.Socket, b.Socket), cmp.Compare(a.PID, b.PID), cmp.Compare(a.State, b.State))
}
