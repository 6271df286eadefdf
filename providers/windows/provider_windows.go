//go:build windows

package windows

import (
	"context"
	"fmt"
	"sync"

	"github.com/tcptable/tcptable"
)

// Provider reads the TCP table with GetExtendedTcpTable. It is safe for
// concurrent use; calls are serialized because they share the buffers the
// provider reuses from one call to the next.
type Provider struct {
	procs procs
	mods  winModules

	mu     sync.Mutex
	closed bool
	e      *engine
}

// New returns a provider. It fails, with an error wrapping
// tcptable.ErrNotSupported, only if iphlpapi.dll lacks GetExtendedTcpTable;
// a missing GetOwnerModuleFromTcpEntry (Wine) makes modules come from the
// process image instead, and a missing GetPerTcpConnectionEStats (Wine)
// makes Stats unsupported.
func New(opts ...Option) (*Provider, error) {
	cfg, err := apply(opts)
	if err != nil {
		return nil, fmt.Errorf("tcptable/windows: New: %w", err)
	}
	p := &Provider{}
	if p.procs, err = loadProcs(); err != nil {
		return nil, fmt.Errorf("tcptable/windows: New: %w", err)
	}
	p.mods.procs = &p.procs
	p.e = newEngine(cfg, &p.procs, &p.mods, &p.procs, isWine())
	return p, nil
}

// Table returns the rows q matches. See tcptable.Provider.
//
// The IPv4 table is read first, then the IPv6 table. When reading the
// second fails (or ctx ends), Table returns the rows already read with the
// error, as it does when a table keeps growing faster than it can be read
// (an error wrapping tcptable.ErrInconsistent).
//
// With q.Stats, each row's Stats come from GetPerTcp(6)ConnectionEStats.
// Windows counts only once collection is switched on for a connection
// (SetPerTcp(6)ConnectionEStats, Administrator only), and from then on: the
// provider switches it on the first time it sees a connection, so the
// counters start then (StatsStatus StatsPartial, Stats.Since). See
// docs/windows.md.
func (p *Provider) Table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	out, err := p.table(ctx, q)
	if err != nil {
		return out, fmt.Errorf("tcptable/windows: Table: %w", err)
	}
	return out, nil
}

// table is Table, whose errors carry no package prefix.
func (p *Provider) table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, tcptable.ErrClosed
	}
	return p.e.table(ctx, q)
}

// Kill ends the IPv4 connection c identifies (by c.Key()) with SetTcpEntry
// and MIB_TCP_STATE_DELETE_TCB, which resets it, and verifies that the row
// is gone by reading the table again. It needs Administrator: otherwise
// the error wraps tcptable.ErrPermission. It reports, wrapping
// tcptable.ErrNotSupported, IPv6 rows (Windows has no IPv6 counterpart of
// SetTcpEntry) and listeners (SetTcpEntry ends connections only); wrapping
// tcptable.ErrNotFound, a row not in the table. When SetTcpEntry reports
// success but the row stays (Wine's SetTcpEntry does nothing), Kill says
// so.
func (p *Provider) Kill(ctx context.Context, c tcptable.Connection) error {
	if err := p.kill(ctx, c); err != nil {
		return fmt.Errorf("tcptable/windows: Kill: %w", err)
	}
	return nil
}

// kill is Kill, whose errors carry no package prefix.
func (p *Provider) kill(ctx context.Context, c tcptable.Connection) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return tcptable.ErrClosed
	}
	return p.e.kill(ctx, &p.procs, c)
}

// Close releases the provider's buffers. It is idempotent; Table after Close
// returns an error wrapping tcptable.ErrClosed.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.e.release()
	p.mods.release()
	return nil
}

var (
	_ tcptable.Provider = (*Provider)(nil)
	_ tcptable.Killer   = (*Provider)(nil)
)
