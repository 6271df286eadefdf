package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"github.com/tcptable/tcptable"
)

// ownerFilter is the provider as the command asks it. It applies a
// query's owner conditions (--pid, --process) itself, after the provider
// has resolved the owners of every row that meets the other conditions,
// so that it can count the rows whose hidden owners might have met them:
// without privileges, "--pid 42" must not print an empty table as if
// process 42 owned nothing. The rows are exactly those Query.Match
// accepts, as if the provider had filtered them (no OS filters sockets by
// owner; the Linux provider, too, resolves every owner and then filters).
//
// It holds the provider in a field rather than embedding it, so that a
// Watcher never reaches the provider's own TableInto past this one; a
// trace is passed on unchanged (see newOwnerFilter).
type ownerFilter struct {
	p tcptable.Provider
	// hidden and total count, in the last answer before the owner
	// conditions, the rows whose owner the caller may not see and all rows.
	hidden, total int
}

// filtered is the provider as the command reads it: an ownerFilter, a
// Tracer or ReadyTracer too where the provider is one.
type filtered interface {
	tcptable.ReusingProvider
	filter() *ownerFilter
}

// newOwnerFilter returns p behind an ownerFilter. Where p is a Tracer (or
// a ReadyTracer) the result is one too, passing traces on as they are: a
// trace reports the changes q's owner conditions select itself, and the
// Watcher's snapshots come through the filter.
func newOwnerFilter(p tcptable.Provider) filtered {
	f := &ownerFilter{p: p}
	switch t := p.(type) {
	case tcptable.ReadyTracer:
		return readyTracingFilter{f, t}
	case tcptable.Tracer:
		return tracingFilter{f, t}
	}
	return f
}

// tracingFilter and readyTracingFilter are an ownerFilter over a provider
// that traces.
type (
	tracingFilter struct {
		*ownerFilter
		tcptable.Tracer
	}
	readyTracingFilter struct {
		*ownerFilter
		tcptable.ReadyTracer
	}
)

func (f *ownerFilter) filter() *ownerFilter { return f }

// Table answers q through the provider.
func (f *ownerFilter) Table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	return f.TableInto(ctx, q, nil)
}

// TableInto answers q through the provider, in buf where the provider is
// a ReusingProvider.
func (f *ownerFilter) TableInto(ctx context.Context, q tcptable.Query, buf []tcptable.Connection) ([]tcptable.Connection, error) {
	wide := q
	wide.PID, wide.Process, wide.Owners = 0, "", q.Detail()
	var rows []tcptable.Connection
	var err error
	if rp, ok := f.p.(tcptable.ReusingProvider); ok {
		rows, err = rp.TableInto(ctx, wide, buf)
	} else {
		rows, err = f.p.Table(ctx, wide)
	}
	f.hidden, f.total = 0, len(rows)
	for i := range rows {
		if ownerHidden(&rows[i], q) {
			f.hidden++
		}
	}
	if rows != nil {
		rows = q.Filter(rows)
	}
	return rows, err
}

// Close closes the provider.
func (f *ownerFilter) Close() error { return f.p.Close() }

// ownerHidden reports whether the caller may not see what q's owner
// conditions look at in c: the PID for --pid alone, the PID or the module
// otherwise.
func ownerHidden(c *tcptable.Connection, q tcptable.Query) bool {
	pid := c.OwnerStatus == tcptable.OwnerPermissionDenied
	if q.PID != 0 && q.Process == "" {
		return pid
	}
	return pid || c.ModuleStatus == tcptable.OwnerPermissionDenied
}

// noteHidden says on stderr, in one line, how many rows of f's last answer
// have owners the caller may not see, and why; with owner conditions, it
// says that those rows might have matched them. It reports whether it said
// anything.
func (a *app) noteHidden(p filtered, q tcptable.Query) bool {
	f := p.filter()
	if f.hidden == 0 {
		return false
	}
	var cond string
	if q.PID != 0 {
		cond = " --pid " + strconv.FormatUint(uint64(q.PID), 10)
	}
	if q.Process != "" {
		cond += " --process " + printable(q.Process)
	}
	msg := fmt.Sprintf("owners of %d of %d endpoints are hidden: permission denied (%s)",
		f.hidden, f.total, privilegeHint(runtime.GOOS, os.Geteuid() == 0))
	if cond != "" {
		msg += "; they may match" + cond
	}
	a.errorf("%s", msg)
	return true
}

// privilegeHint says how to see every owner on goos; root says whether the
// caller already is root (never on Windows, where os.Geteuid is -1).
func privilegeHint(goos string, root bool) string {
	switch {
	case goos == "windows":
		return "protected or other users' processes; run as Administrator to see them"
	case root:
		return "processes even root may not inspect, such as a container runtime's init"
	}
	return "other users' processes; run as root to see them"
}
