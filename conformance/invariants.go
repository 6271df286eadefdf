package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tcptable/tcptable"
)

// self describes the calling process, whose rows the suite expects.
type self struct {
	pid  uint32
	exe  string // base name of the executable, e.g. "conformance.test"
	arg0 string // base name it was started as (differs through a symlink)
}

// newSelf describes the calling process.
func newSelf() self {
	s := self{pid: uint32(os.Getpid())}
	if exe, err := os.Executable(); err == nil {
		s.exe = filepath.Base(exe)
	}
	if len(os.Args) > 0 {
		s.arg0 = filepath.Base(os.Args[0])
	}
	return s
}

// isModule reports whether name can be this process' module: the start,
// ignoring case, of the executable's base name or of the name it was
// started as (Linux truncates a process' name to 15 bytes, macOS to 16).
func (me self) isModule(name string) bool {
	name = strings.ToLower(name)
	for _, full := range []string{me.exe, me.arg0} {
		if full != "" && strings.HasPrefix(strings.ToLower(full), name) {
			return true
		}
	}
	return false
}

// maxExamples caps how many rows one kind of problem quotes, so that a
// broken provider on a busy host does not flood the log.
const maxExamples = 3

// problems collects rule violations of one answer, grouped by rule.
type problems struct {
	order []string
	rows  map[string][]string
	count map[string]int
}

// add records that row violates rule.
func (p *problems) add(rule string, c *tcptable.Connection) { p.note(rule, describe(c)) }

// note records an example, described, of what violates rule.
func (p *problems) note(rule, example string) {
	if p.rows == nil {
		p.rows, p.count = map[string][]string{}, map[string]int{}
	}
	if p.count[rule] == 0 {
		p.order = append(p.order, rule)
	}
	p.count[rule]++
	if len(p.rows[rule]) < maxExamples {
		p.rows[rule] = append(p.rows[rule], example)
	}
}

// list returns one line per violated rule, quoting a few examples.
func (p *problems) list() []string {
	out := make([]string, 0, len(p.order))
	for _, rule := range p.order {
		s := fmt.Sprintf("%s (%d rows), e.g. %s", rule, p.count[rule], strings.Join(p.rows[rule], "; "))
		out = append(out, s)
	}
	return out
}

// describe formats a row for failure messages.
func describe(c *tcptable.Connection) string {
	s := fmt.Sprintf("{%v %v -> %v pid=%d owner=%v", c.State, c.Local, c.Remote, c.PID, c.OwnerStatus)
	if c.DualStack {
		s += " dual-stack"
	}
	if !c.Module.IsZero() || c.ModuleStatus != tcptable.OwnerUnknown {
		s += fmt.Sprintf(" module=%q/%v", c.Module.Name, c.ModuleStatus)
	}
	if c.StatsStatus != tcptable.StatsNotRequested || c.Stats != nil {
		s += fmt.Sprintf(" stats=%v", c.StatsStatus)
		if c.Stats == nil {
			s += "(nil)"
		}
	}
	return s + "}"
}

// checkAnswer returns the rules that rows, the answer to q, violates. The
// rules hold for every row, whoever owns it; the Env's own rows are checked
// further by the subtests.
func checkAnswer(q tcptable.Query, rows []tcptable.Connection, me self, cfg *config) []string {
	var p problems
	seen := make(map[tcptable.Key]bool, len(rows))
	detail := q.Detail()
	for i := range rows {
		c := &rows[i]
		if !q.Match(*c) {
			p.add(fmt.Sprintf("row does not match the query %s", showQuery(q)), c)
		}
		if !c.State.Valid() && (c.State != 0 || c.OSState == 0) {
			p.add("State is not one of the twelve MIB_TCP_STATE values, nor 0 with the OS's own code in OSState", c)
		}
		if !c.Local.IsValid() || !c.Remote.IsValid() {
			p.add("Local or Remote is not a valid address and port", c)
		}
		k := c.Key()
		if seen[k] {
			p.add("duplicate Key in one answer", c)
		}
		seen[k] = true
		if c.State == tcptable.StateListen && !unspecifiedRemote(c) {
			p.add("listener's Remote is not the unspecified address of its family with port 0", c)
		}
		if c.DualStack && (c.Family() != tcptable.IPv6 || !c.Local.Addr().IsUnspecified()) {
			p.add("DualStack is set on a row that is not an IPv6 socket bound to ::", c)
		}
		checkOwner(&p, c, detail, me, cfg)
		checkStatsStatus(&p, c, q.Stats)
	}
	return p.list()
}

// checkStatsStatus applies the statistics conventions to one row: nothing
// unless asked for, and when asked, Stats exactly when the status says
// they are there, and a reason when they are not.
func checkStatsStatus(p *problems, c *tcptable.Connection, asked bool) {
	switch {
	case !asked && c.Stats != nil:
		p.add("the query asked for no statistics (Query.Stats false) but the row has Stats", c)
	case !asked && c.StatsStatus != tcptable.StatsNotRequested:
		p.add(fmt.Sprintf("the query asked for no statistics but StatsStatus is %v, not %v", c.StatsStatus, tcptable.StatsNotRequested), c)
	case !asked:
	case c.Stats != nil && c.StatsStatus != tcptable.StatsOK && c.StatsStatus != tcptable.StatsPartial:
		p.add(fmt.Sprintf("the row has Stats but StatsStatus is %v, not %v or %v", c.StatsStatus, tcptable.StatsOK, tcptable.StatsPartial), c)
	case c.Stats == nil && !slices.Contains(statsReasons(), c.StatsStatus):
		p.add(fmt.Sprintf("Query.Stats asked for statistics, the row has none, and StatsStatus %v gives no reason (want one of %v)", c.StatsStatus, statsReasons()), c)
	case c.Stats != nil && (c.StatsStatus == tcptable.StatsPartial) == c.Stats.Since.IsZero():
		p.add("Stats.Since must be set exactly when StatsStatus is partial", c)
	}
}

// statsReasons returns the statuses that explain a row without Stats when
// Query.Stats asked for them.
func statsReasons() []tcptable.StatsStatus {
	return []tcptable.StatsStatus{tcptable.StatsNotAvailable, tcptable.StatsPermissionDenied, tcptable.StatsNotSupported}
}

// checkOwner applies the owner conventions to one row.
func checkOwner(p *problems, c *tcptable.Connection, detail tcptable.OwnerDetail, me self, cfg *config) {
	switch {
	case c.PID != 0 && c.OwnerStatus != tcptable.OwnerOK:
		p.add("PID is set but OwnerStatus is not OwnerOK", c)
	case c.PID == 0 && c.OwnerStatus == tcptable.OwnerOK:
		p.add("PID is 0 but OwnerStatus is OwnerOK (PID 0 needs a reason)", c)
	}
	if !slices.IsSorted(c.OtherPIDs) || slices.Contains(c.OtherPIDs, c.PID) {
		p.add("OtherPIDs is not ascending or repeats PID", c)
	}
	if !detail.WantPIDs() && (c.PID != 0 || len(c.OtherPIDs) != 0 || c.OwnerStatus == tcptable.OwnerOK) {
		p.add("the query asked for no owners (OwnerNone) but the row has a PID", c)
	}
	if !detail.WantModules() && (!c.Module.IsZero() || c.ModuleStatus == tcptable.OwnerOK) {
		p.add("the query asked for no modules but the row has a Module", c)
	}
	if detail.WantModules() && c.PID != 0 && c.PID == me.pid && !cfg.has(NoModule) {
		if c.Module.Name == "" || c.ModuleStatus != tcptable.OwnerOK {
			p.add("a row of this process has no Module.Name or ModuleStatus is not OwnerOK (declare NoModule if the platform cannot tell)", c)
		} else if me.exe != "" && !me.isModule(c.Module.Name) {
			p.add(fmt.Sprintf("a row of this process names a module that is not this executable (%q)", me.exe), c)
		}
	}
}

// unspecifiedRemote reports whether c's Remote is the unspecified address of
// c's family with port 0.
func unspecifiedRemote(c *tcptable.Connection) bool {
	r := c.Remote
	return r.IsValid() && r.Addr().IsUnspecified() && r.Port() == 0 && r.Addr().Is4() == c.Local.Addr().Is4()
}

// showQuery formats q compactly for messages.
func showQuery(q tcptable.Query) string {
	var parts []string
	add := func(cond bool, format string, args ...any) {
		if cond {
			parts = append(parts, fmt.Sprintf(format, args...))
		}
	}
	add(q.Class != tcptable.ClassAll, "Class=%v", q.Class)
	add(q.Family != tcptable.AnyFamily, "Family=%v", q.Family)
	add(len(q.States) > 0, "States=%v", q.States)
	add(q.LocalPort != 0, "LocalPort=%d", q.LocalPort)
	add(q.RemotePort != 0, "RemotePort=%d", q.RemotePort)
	add(q.Port != 0, "Port=%d", q.Port)
	add(q.PID != 0, "PID=%d", q.PID)
	add(q.Process != "", "Process=%q", q.Process)
	add(q.Owners != tcptable.OwnerModules, "Owners=%v", q.Owners)
	add(q.Stats, "Stats=true")
	return "{" + strings.Join(parts, " ") + "}"
}
