package linux

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/internal/option"
	"github.com/tcptable/tcptable/providers/linux/internal/events"
	"github.com/tcptable/tcptable/providers/linux/internal/owners"
)

// Provider reads the Linux TCP table. It is safe for concurrent use; calls
// to Table are serialized. Close does not wait for them: it cancels the
// call in flight, which then returns an error wrapping tcptable.ErrClosed,
// as do the calls queued behind it.
type Provider struct {
	mu       sync.Mutex
	cfg      config
	closed   atomic.Bool
	done     context.Context // ended by Close
	stop     context.CancelFunc
	source   Source      // SourceNetlink or SourceProcNet once decided
	nsFD     int         // -1 without WithNetNS
	netns    uint64      // inode of the queried namespace
	fams     [2]famState // AF_INET, AF_INET6
	killConn *diagConn   // Kill's sock_diag socket, opened on first use (kill_linux.go)
	res      *owners.Resolver
	namer    netnsNamer // names namespaces after /run/netns
	all      *allNetNS  // WithAllNetNS; nil otherwise
	rec      *recorder  // the kernel recorder of births and events
	recErr   error      // why it cannot run, or nil
	// The birth times of the Table call in progress: the recorder's
	// socket storage map (-1: none), TIME-WAIT births by cookie, and the
	// clock that converts them.
	birthFD    int
	births     *events.TimeWaitBirths
	birthClock events.Clock

	testHookTable func(ctx context.Context) // run under the lock by every Table call, if set
}

var _ tcptable.ReusingProvider = (*Provider)(nil)

// New returns a provider for the network namespace of the calling thread,
// the one WithNetNS names, or every one with WithAllNetNS. Every row
// carries its namespace's inode in NetNS (and its /run/netns name in
// NetNSName), so that rows of different namespaces never share a Key.
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
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.workers == 0 {
		cfg.workers = min(runtime.GOMAXPROCS(0), defaultMaxWorkers)
	}
	p := &Provider{cfg: cfg, nsFD: -1, source: cfg.source, birthFD: -1}
	p.done, p.stop = context.WithCancel(context.Background())
	for i, fam := range [...]uint8{afInet, afInet6} {
		p.fams[i] = famState{fam: fam, dedup: newDedup()}
	}
	var err error
	if cfg.netns != "" {
		if p.nsFD, p.netns, err = openNetNS(cfg.netns); err != nil {
			return nil, err
		}
		if err := enterable(p.nsFD, cfg.netns); err != nil {
			p.Close()
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
	p.rec = newRecorder(events.Options{NetNS: p.netns, RingSize: cfg.trace.ringSize})
	if p.recErr = bpfAllowed(&p.cfg); p.recErr == nil && !cfg.trace.noBirths {
		p.rec.start() // in the background: New does not wait for it
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
	if err := p.initNetNS(); err != nil {
		p.Close()
		return nil, err
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
// tcptable.ErrNotSupported, except for loads that kept failing with EAGAIN
// (see fditer's progLoadAttempts), which are not a lack of support.
func (p *Provider) useIter(scan OwnerScan) error {
	if scan == OwnerScanProcfs {
		return nil
	}
	err := p.res.UseIter(scan == OwnerScanBPF)
	switch {
	case err == nil || scan != OwnerScanBPF:
	case errors.Is(err, unix.EAGAIN):
		// Loads kept being interrupted: supported, but not now.
		return fmt.Errorf("%v owner scan: %w", scan, err)
	default:
		return fmt.Errorf("%v owner scan: %w: %w", scan, tcptable.ErrNotSupported, err)
	}
	return nil // OwnerScanAuto: an iterator that cannot load leaves the resolver on /proc
}

// Close releases the netlink socket and /proc descriptors. It is
// idempotent.
func (p *Provider) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.stop() // a Table or Kill call in flight ends at its next check
	// The recorder first, and without p.mu: it ends every Trace, whose fn
	// may be calling Table.
	var errs []error
	if p.rec != nil {
		errs = append(errs, p.rec.close())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	errs = append(errs, p.closeDiag())
	if p.all != nil {
		errs = append(errs, p.all.closeAll())
	}
	if p.killConn != nil {
		errs = append(errs, p.killConn.close())
		p.killConn = nil
	}
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
	rows, err := p.tableOpen(ctx, q, buf)
	if err != nil {
		err = fmt.Errorf("tcptable/linux: Table: %w", err)
	}
	return rows, err
}

// tableOpen is TableInto, whose errors carry no package prefix: it dumps
// the sockets (collect) while the resolver lists the processes (Begin), then
// finds the sockets' owners and joins them into the rows (Finish), in
// table, which it runs as whileOpen says.
func (p *Provider) tableOpen(ctx context.Context, q tcptable.Query, buf []tcptable.Connection) ([]tcptable.Connection, error) {
	if p.closed.Load() {
		return nil, tcptable.ErrClosed
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var rows []tcptable.Connection
	err := p.whileOpen(ctx, func(ctx context.Context) (err error) {
		if p.testHookTable != nil {
			p.testHookTable(ctx)
		}
		rows, err = p.table(ctx, q, buf)
		return err
	})
	if errors.Is(err, tcptable.ErrClosed) {
		return nil, err
	}
	return rows, err
}

// whileOpen runs fn under the lock unless the provider is closed, with a
// context that Close also ends: Close does not wait for a call in flight.
// A call Close ended (or that found the provider closed) returns an error
// wrapping tcptable.ErrClosed.
func (p *Provider) whileOpen(ctx context.Context, fn func(ctx context.Context) error) error {
	if p.closed.Load() {
		return tcptable.ErrClosed
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(p.done, func() { cancel(tcptable.ErrClosed) })()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return tcptable.ErrClosed
	}
	err := fn(ctx)
	if err != nil && errors.Is(context.Cause(ctx), tcptable.ErrClosed) {
		return fmt.Errorf("%w: %v", tcptable.ErrClosed, err)
	}
	return err
}

// table is tableOpen's work, under the lock.
func (p *Provider) table(ctx context.Context, q tcptable.Query, buf []tcptable.Connection) ([]tcptable.Connection, error) {
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
			resErr = p.res.Begin(ctx, p.ownersNetNS())
		}()
	}
	if p.source != SourceProcNet {
		// Birth times come by socket cookie, which /proc/net lacks.
		p.birthFD, p.births, p.birthClock = p.rec.birthTimes()
	}
	rows, tableErr := p.collectNS(ctx, q, buf)
	p.births, p.birthFD = nil, -1
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
	detail.Apply(rows) // the statuses of the detail q did not ask for
	if q.PID != 0 || q.Process != "" {
		rows = q.Filter(rows)
	}
	return rows, tableErr
}
