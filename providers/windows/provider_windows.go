//go:build windows

package windows

import (
	"context"
	"fmt"
	"sync"
	"unsafe"

	"github.com/tcptable/tcptable"
)

// Provider reads the TCP table with GetExtendedTcpTable. It is safe for
// concurrent use; calls are serialized because they share the buffers the
// provider reuses from one call to the next.
type Provider struct {
	cfg   config
	procs procs
	wine  bool

	mu      sync.Mutex
	closed  bool
	bufs    [2][]byte             // the IPv4 and IPv6 table buffers, reused
	scratch []tcptable.Connection // decoded rows before filtering, reused
	res     *resolver
}

// New returns a provider. It fails, with an error wrapping
// tcptable.ErrNotSupported, only if iphlpapi.dll lacks GetExtendedTcpTable;
// a missing GetOwnerModuleFromTcpEntry (Wine) makes modules come from the
// process image instead.
func New(opts ...Option) (*Provider, error) {
	cfg, err := apply(opts)
	if err != nil {
		return nil, fmt.Errorf("tcptable/windows: New: %w", err)
	}
	p := &Provider{cfg: cfg, wine: isWine()}
	if p.procs, err = loadProcs(); err != nil {
		return nil, fmt.Errorf("tcptable/windows: New: %w", err)
	}
	p.res = newResolver(&p.procs)
	return p, nil
}

// Table returns the rows q matches. See tcptable.Provider.
func (p *Provider) Table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	out, err := p.table(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("tcptable/windows: Table: %w", err)
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
	p.res.begin()
	defer p.res.sweep()
	var out []tcptable.Connection
	for i, fam := range [...]tcptable.Family{tcptable.IPv4, tcptable.IPv6} {
		if !q.MatchFamily(fam) {
			continue
		}
		var err error
		if out, err = p.family(ctx, q, i, fam, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// family appends the rows of one family's table that q matches.
func (p *Provider) family(ctx context.Context, q tcptable.Query, i int, fam tcptable.Family, out []tcptable.Connection) ([]tcptable.Connection, error) {
	if err := ctx.Err(); err != nil {
		return out, err
	}
	af, class := uint32(afInet), uint32(tcpTableOwnerModuleAll)
	if fam == tcptable.IPv6 {
		af = afInet6
	}
	if q.Class == tcptable.ClassListeners {
		// The LISTENER class is right everywhere; CONNECTIONS is not
		// pushed down, since Wine returns only ESTABLISHED rows for it.
		class = tcpTableOwnerModuleListener
	}
	if p.bufs[i] == nil {
		p.bufs[i] = make([]byte, p.cfg.initialSize)
	}
	buf, err := negotiate("GetExtendedTcpTable("+fam.String()+")", p.bufs[i], p.cfg.tries, maxBufferSize,
		func(b []byte, size *uint32) error { return p.procs.tcpTable(b, size, af, class, false) })
	p.bufs[i] = buf
	if err != nil {
		return out, err
	}
	rows, err := appendTable(p.scratch[:0], buf, fam)
	p.scratch = rows
	if err != nil {
		return out, err
	}
	l, _ := layoutOf(fam)
	detail := q.Detail()
	for j := range rows {
		c := rows[j]
		if !q.MatchState(c.State) || !q.MatchAddr(&c) {
			continue
		}
		if j%256 == 255 {
			if err := ctx.Err(); err != nil {
				return out, err
			}
		}
		p.owner(&c, detail, unsafe.Pointer(&buf[tableHeaderSize+j*l.size]), fam == tcptable.IPv6)
		if q.Match(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// owner sets c's owner fields for the detail the query asks for.
func (p *Provider) owner(c *tcptable.Connection, detail tcptable.OwnerDetail, row unsafe.Pointer, ipv6 bool) {
	if !detail.WantPIDs() {
		c.PID, c.OwnerStatus, c.ModuleStatus = 0, tcptable.OwnerNotRequested, tcptable.OwnerNotRequested
		return
	}
	if p.wine && c.PID == pidIdle && c.State != tcptable.StateTimeWait {
		// Wine attributes only sockets whose fd the calling process holds;
		// PID 0 says "not known", not "the Idle process".
		c.OwnerStatus, c.ModuleStatus = tcptable.OwnerNotSupported, tcptable.OwnerNotSupported
	}
	if !detail.WantModules() {
		c.ModuleStatus = tcptable.OwnerNotRequested
		return
	}
	p.res.resolve(c, row, ipv6)
}

// Close releases the provider's buffers. It is idempotent; Table after Close
// returns an error wrapping tcptable.ErrClosed.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.bufs, p.scratch, p.res.buf, p.res.pathBuf = [2][]byte{}, nil, nil, nil
	return nil
}

var _ tcptable.Provider = (*Provider)(nil)
