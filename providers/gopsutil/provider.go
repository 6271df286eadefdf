// Package gopsutil is a tcptable provider over
// github.com/shirou/gopsutil/v4's net.Connections, for the OSes that have no
// native provider: macOS and FreeBSD (gopsutil runs lsof), OpenBSD, NetBSD
// and AIX (it runs netstat, which reports no owners). It also works on
// Linux and Windows, where it serves as a reference and a benchmark peer.
//
// gopsutil reports each row's state as text, which ParseState normalizes;
// the OS's own code is kept in Connection.OSState. Owning processes' names
// and executables come from gopsutil's process package, cached per (PID,
// creation time). docs/platforms.md lists, per OS, what this provider fills
// and what it costs.
package gopsutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"

	"github.com/shirou/gopsutil/v4/common"
	"github.com/shirou/gopsutil/v4/net"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/internal/option"
)

// listFunc lists TCP rows the way gopsutil's net.ConnectionsPid does: kind
// is "tcp", "tcp4" or "tcp6"; pid 0 means every process.
type listFunc func(ctx context.Context, kind string, pid int32) ([]net.ConnectionStat, error)

// Provider is a tcptable.Provider over gopsutil. It is safe for concurrent
// use.
type Provider struct {
	d          dialect
	list       listFunc
	procs      *procCache
	privileged bool
	hostProc   string
	closed     atomic.Bool
}

var _ tcptable.Provider = (*Provider)(nil)

// Option configures New. An option given an argument it cannot use makes
// New fail with an error wrapping tcptable.ErrInvalid that names the
// option. The Linux and Windows providers' options have the same shape.
type Option func(*config) error

type config struct {
	hostProc string
}

// WithHostProc makes gopsutil read the proc file system at dir instead of
// /proc (Linux; for example the host's /proc mounted into a container). It
// has no effect on other OSes. An empty dir is invalid.
func WithHostProc(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return option.Invalid(`WithHostProc("")`, "empty path")
		}
		c.hostProc = dir
		return nil
	}
}

// New returns a provider for the OS the binary runs on. On an OS where
// gopsutil cannot list TCP connections (Solaris, illumos, DragonFly BSD,
// Plan 9, ...), or where the program it runs (lsof on macOS and FreeBSD,
// netstat on OpenBSD, NetBSD and AIX) is not installed, it returns an error
// wrapping tcptable.ErrNotSupported that names the OS.
func New(opts ...Option) (*Provider, error) {
	var cfg config
	if err := option.Apply(&cfg, opts); err != nil {
		return nil, fmt.Errorf("tcptable/gopsutil: New: %w", err)
	}
	d, ok := dialectFor(runtime.GOOS)
	if !ok {
		return nil, fmt.Errorf("listing TCP connections on %s: %w", runtime.GOOS, tcptable.ErrNotSupported)
	}
	if d.tool != "" {
		if _, err := exec.LookPath(d.tool); err != nil {
			return nil, fmt.Errorf("tcptable/gopsutil: on %s gopsutil runs %s, which is not installed: %w (%w)",
				runtime.GOOS, d.tool, tcptable.ErrNotSupported, err)
		}
	}
	p := &Provider{
		d:          d,
		list:       listConnections,
		procs:      newProcCache(gopsutilOpen),
		privileged: runtime.GOOS == "windows" || os.Geteuid() == 0,
		hostProc:   cfg.hostProc,
	}
	return p, nil
}

// Close marks the provider closed; Table then fails with an error wrapping
// tcptable.ErrClosed. Close is idempotent and always returns nil.
func (p *Provider) Close() error {
	p.closed.Store(true)
	return nil
}

// Table returns the rows q.Match accepts, without Stats (StatsNotSupported
// when q.Stats asks for them). A PID condition is pushed down to
// gopsutil where it can list one process' sockets (Linux, macOS, FreeBSD,
// Windows); everything else is filtered after mapping, before owning
// processes are looked up.
func (p *Provider) Table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	conns, err := p.table(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("tcptable/gopsutil: Table: %w", err)
	}
	return conns, nil
}

// table is Table, whose errors carry no package prefix.
func (p *Provider) table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	if p.closed.Load() {
		return nil, tcptable.ErrClosed
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.PID != 0 && !p.d.owners {
		// No row carries a PID on this OS, so none can match.
		return []tcptable.Connection{}, nil
	}
	rows, err := p.rows(ctx, q)
	if err != nil {
		return nil, err
	}
	conns := make([]tcptable.Connection, 0, len(rows))
	for i := range rows {
		c, err := convert(&rows[i], &p.d)
		if err != nil {
			return nil, err
		}
		if q.MatchState(c.State) && q.MatchAddr(&c) {
			c.StatsStatus = statsStatus(q)
			conns = append(conns, c)
		}
	}
	conns = mergeOwners(conns)
	if err := p.resolveOwners(ctx, q.Detail(), conns); err != nil {
		return nil, err
	}
	return q.Filter(conns), nil
}

// statsStatus is every row's StatsStatus: gopsutil reads no per-connection
// counters on any OS, so Stats stays nil and, when q asks for them, the
// status says they are not supported.
func statsStatus(q tcptable.Query) tcptable.StatsStatus {
	if q.Stats {
		return tcptable.StatsNotSupported
	}
	return tcptable.StatsNotRequested
}

// rows asks gopsutil for the rows of q's family (and PID, where gopsutil
// can narrow by PID).
func (p *Provider) rows(ctx context.Context, q tcptable.Query) ([]net.ConnectionStat, error) {
	kind := "tcp"
	switch q.Family {
	case tcptable.IPv4:
		kind = "tcp4"
	case tcptable.IPv6:
		kind = "tcp6"
	}
	var pid int32
	if p.d.pidFilter && q.PID != 0 && q.PID <= 1<<31-1 {
		pid = int32(q.PID)
	}
	gctx := ctx
	if p.hostProc != "" {
		gctx = context.WithValue(ctx, common.EnvKey, common.EnvMap{common.HostProcEnvKey: p.hostProc})
	}
	rows, err := p.list(gctx, kind, pid)
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("listing %s connections: %w", kind, ctx.Err())
	case err != nil && err.Error() == "not implemented yet":
		// gopsutil's internal common.ErrNotImplementedError, not importable.
		return nil, fmt.Errorf("listing %s connections on %s: %w (gopsutil: %w)",
			kind, p.d.goos, tcptable.ErrNotSupported, err)
	case err != nil:
		return nil, fmt.Errorf("listing %s connections on %s%s: %w", kind, p.d.goos, toolHint(p.d.tool), err)
	}
	return rows, nil
}

// toolHint names the program gopsutil runs, for error messages.
func toolHint(tool string) string {
	if tool == "" {
		return ""
	}
	return " (gopsutil runs " + tool + ")"
}

// setOwnerStatus sets c's OwnerStatus and, for a row without an owner, its
// ModuleStatus too. It reports whether c has an owner whose module can be
// looked up.
func (p *Provider) setOwnerStatus(c *tcptable.Connection) bool {
	if c.PID != 0 {
		c.OwnerStatus = tcptable.OwnerOK
		return true
	}
	c.OwnerStatus = ownerlessStatus(c.State, &p.d, p.privileged)
	c.ModuleStatus = c.OwnerStatus
	return false
}

// resolveOwners sets owner statuses, and modules and UIDs as detail asks,
// on every row, and leaves out what detail does not ask for.
func (p *Provider) resolveOwners(ctx context.Context, detail tcptable.OwnerDetail, conns []tcptable.Connection) error {
	defer detail.Apply(conns)
	if !detail.WantPIDs() {
		return nil
	}
	if detail.WantModules() {
		p.procs.startSweep()
	}
	facts := map[uint32]procFacts{}
	for i := range conns {
		c := &conns[i]
		if !p.setOwnerStatus(c) || !detail.WantModules() {
			continue
		}
		f, ok := facts[c.PID]
		if !ok {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("resolving owners: %w", err)
			}
			f = p.procs.lookup(ctx, int32(c.PID))
			facts[c.PID] = f
		}
		c.Module, c.ModuleStatus = f.module, f.status
		if f.status == tcptable.OwnerOK {
			c.ModuleSource = tcptable.SourceGopsutil
		}
		if f.hasUID && !c.HasUID {
			c.UID, c.HasUID = f.uid, true
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("resolving owners: %w", err)
	}
	return nil
}
