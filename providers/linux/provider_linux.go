package linux

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/internal/option"
	"github.com/tcptable/tcptable/providers/linux/internal/owners"
)

// Provider reads the Linux TCP table. It is safe for concurrent use; calls
// to Table are serialized.
type Provider struct {
	mu     sync.Mutex
	cfg    config
	closed bool
	source Source      // SourceNetlink or SourceProcNet once decided
	nsFD   int         // -1 without WithNetNS
	netns  uint64      // inode of the queried namespace
	fams   [2]famState // AF_INET, AF_INET6
	res    *owners.Resolver
}

var _ tcptable.ReusingProvider = (*Provider)(nil)

// New returns a provider for the network namespace of the calling thread,
// or the one WithNetNS names.
func New(opts ...Option) (*Provider, error) {
	p, err := newProvider(opts)
	if err != nil {
		return nil, fmt.Errorf("tcptable/linux: New: %w", err)
	}
	return p, nil
}

// newProvider is New, whose errors carry no package prefix.
func newProvider(opts []Option) (*Provider, error) {
	cfg := defaultConfig()
	if err := option.Apply(&cfg, opts); err != nil {
		return nil, err
	}
	if cfg.workers == 0 {
		cfg.workers = min(runtime.GOMAXPROCS(0), defaultMaxWorkers)
	}
	p := &Provider{cfg: cfg, nsFD: -1, source: cfg.source}
	for i, fam := range [...]uint8{afInet, afInet6} {
		p.fams[i] = famState{fam: fam, dedup: newDedup()}
	}
	var err error
	if cfg.netns != "" {
		if p.nsFD, p.netns, err = openNetNS(cfg.netns); err != nil {
			return nil, err
		}
	} else if p.netns, err = selfNetNS(); err != nil {
		return nil, err
	}
	if p.res, err = owners.New(cfg.procRoot, !cfg.noCache, cfg.revalidate, cfg.workers, cfg.firstOwner); err != nil {
		p.Close()
		return nil, err
	}
	if err := p.useIter(cfg.ownerScan); err != nil {
		p.Close()
		return nil, err
	}
	if p.source != SourceProcNet {
		if err := p.openDiag(&p.fams[0]); err != nil {
			if p.source == SourceNetlink || !diagUnavailable(err) {
				p.Close()
				return nil, err
			}
			p.source = SourceProcNet
		}
	}
	return p, nil
}

// Source reports the table source in use: SourceNetlink or SourceProcNet.
func (p *Provider) Source() Source {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.source == SourceAuto {
		return SourceNetlink
	}
	return p.source
}

// OwnerScan reports the owner scan in use: OwnerScanBPF or
// OwnerScanProcfs (OwnerScanAuto resolves to one of them in New, and goes
// to OwnerScanProcfs for good if the descriptor iterator fails later).
func (p *Provider) OwnerScan() OwnerScan {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.res != nil && p.res.BPF() {
		return OwnerScanBPF
	}
	return OwnerScanProcfs
}

// useIter loads the descriptor iterator unless scan is OwnerScanProcfs.
// With OwnerScanAuto a kernel or caller that cannot run it leaves the
// resolver on /proc; with OwnerScanBPF that is an error wrapping
// tcptable.ErrNotSupported.
func (p *Provider) useIter(scan OwnerScan) error {
	if scan == OwnerScanProcfs {
		return nil
	}
	if err := p.res.UseIter(scan == OwnerScanBPF); err != nil && scan == OwnerScanBPF {
		return fmt.Errorf("%v owner scan: %w: %w", scan, tcptable.ErrNotSupported, err)
	}
	return nil // OwnerScanAuto: an iterator that cannot load leaves the resolver on /proc
}

// Close releases the netlink socket and /proc descriptors. It is
// idempotent.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	errs := []error{p.closeDiag()}
	if p.res != nil {
		errs = append(errs, p.res.Close())
	}
	if p.nsFD >= 0 {
		errs = append(errs, unix.Close(p.nsFD))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tcptable/linux: Close: %w", err)
	}
	return nil
}

// Table returns the rows of the TCP table that q matches. See
// tcptable.Provider. When the kernel keeps reporting that the table changed
// during the dump, Table returns the last rows it read together with an
// error wrapping tcptable.ErrInconsistent.
func (p *Provider) Table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	return p.TableInto(ctx, q, nil)
}

// TableInto is Table that may build the answer in buf's backing array
// (the whole capacity) instead of allocating one: a poller that hands back
// its previous answer, which it must no longer use, keeps a single table
// in memory instead of two until the garbage collector runs (at 200,000
// rows each answer is 45 MB). A nil or too small buf is not used.
func (p *Provider) TableInto(ctx context.Context, q tcptable.Query, buf []tcptable.Connection) ([]tcptable.Connection, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rows, err := p.table(ctx, q, buf)
	if err != nil {
		err = fmt.Errorf("tcptable/linux: Table: %w", err)
	}
	return rows, err
}

// table is TableInto, whose errors carry no package prefix: it dumps the
// sockets (collect) while the resolver lists the processes (Begin), then
// finds the sockets' owners and joins them into the rows (Finish).
func (p *Provider) table(ctx context.Context, q tcptable.Query, buf []tcptable.Connection) ([]tcptable.Connection, error) {
	if p.closed {
		return nil, tcptable.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	detail := q.Detail()
	var resErr error
	var wg sync.WaitGroup
	if detail.WantPIDs() {
		// Scan the namespace's processes while the kernel dumps.
		wg.Add(1)
		go func() {
			defer wg.Done()
			resErr = p.res.Begin(ctx, p.netns)
		}()
	}
	rows, tableErr := p.collect(ctx, q, buf)
	wg.Wait()
	if tableErr != nil && !errors.Is(tableErr, tcptable.ErrInconsistent) {
		return nil, tableErr
	}
	if resErr == nil && detail.WantPIDs() {
		resErr = p.res.Finish(ctx, rows, detail.WantModules())
	}
	if resErr != nil {
		return nil, fmt.Errorf("owners: %w", resErr)
	}
	markNotRequested(rows, detail)
	if q.PID != 0 || q.Process != "" {
		rows = q.Filter(rows)
	}
	return rows, tableErr
}

// markNotRequested sets the statuses of the detail the query did not ask for.
func markNotRequested(rows []tcptable.Connection, d tcptable.OwnerDetail) {
	if d.WantModules() {
		return
	}
	for i := range rows {
		if !d.WantPIDs() {
			rows[i].OwnerStatus = tcptable.OwnerNotRequested
		}
		rows[i].ModuleStatus = tcptable.OwnerNotRequested
	}
}
