package linux

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
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
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.source > SourceProcNet {
		return nil, fmt.Errorf("tcptable/linux: %w: unknown source %v", tcptable.ErrInvalid, cfg.source)
	}
	if cfg.workers <= 0 {
		cfg.workers = min(runtime.GOMAXPROCS(0), maxWorkers)
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
	switch scan {
	case OwnerScanProcfs:
		return nil
	case OwnerScanAuto, OwnerScanBPF:
	default:
		return fmt.Errorf("tcptable/linux: %w: unknown owner scan %v", tcptable.ErrInvalid, scan)
	}
	if err := p.res.UseIter(scan == OwnerScanBPF); err != nil && scan == OwnerScanBPF {
		return fmt.Errorf("tcptable/linux: %v owner scan on linux: %w: %w", scan, tcptable.ErrNotSupported, err)
	}
	return nil // OwnerScanAuto: an iterator that cannot load leaves the resolver on /proc
}

// openDiag opens a family's sock_diag socket, inside the queried
// namespace.
func (p *Provider) openDiag(f *famState) error {
	if p.nsFD < 0 {
		d, err := openDiag()
		f.conn = d
		return err
	}
	var d *diagConn
	err := inNetNS(p.nsFD, func() (err error) {
		d, err = openDiag()
		return err
	})
	if err != nil && d != nil {
		d.close()
		d = nil
	}
	f.conn = d
	return err
}

// closeDiag closes the sock_diag sockets.
func (p *Provider) closeDiag() error {
	var errs []error
	for i := range p.fams {
		if c := p.fams[i].conn; c != nil {
			errs = append(errs, c.close())
			p.fams[i].conn = nil
		}
	}
	return errors.Join(errs...)
}

// diagUnavailable reports whether err means sock_diag cannot be used here
// at all, as opposed to a transient failure.
func diagUnavailable(err error) bool {
	for _, e := range []error{unix.EPROTONOSUPPORT, unix.EAFNOSUPPORT, unix.EPERM, unix.EACCES,
		unix.ENOENT, unix.EOPNOTSUPP, unix.EINVAL} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
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
	return errors.Join(errs...)
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
	if p.closed {
		return nil, fmt.Errorf("tcptable/linux: Table: %w", tcptable.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tcptable/linux: Table: %w", err)
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
		return nil, fmt.Errorf("tcptable/linux: owners: %w", resErr)
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

// collect reads the rows matching q's state and address conditions from
// the table source into buf if it is large enough, falling back from
// netlink to /proc/net in SourceAuto.
func (p *Provider) collect(ctx context.Context, q tcptable.Query, buf []tcptable.Connection) ([]tcptable.Connection, error) {
	mask := stateMask(q)
	if mask == 0 {
		return []tcptable.Connection{}, nil
	}
	if p.source != SourceProcNet {
		rows, err := p.collectNetlink(ctx, q, mask, buf)
		if err == nil || p.source == SourceNetlink || !diagUnavailable(err) {
			return rows, err
		}
		p.source = SourceProcNet // sock_diag refused: fall back for good
		p.closeDiag()
	}
	return p.collectProcNet(ctx, q, mask, buf)
}

// rowsOf returns n rows backed by buf if its capacity allows, else new ones.
func rowsOf(buf []tcptable.Connection, n int) []tcptable.Connection {
	if cap(buf) >= n {
		return buf[:n]
	}
	return makeRows(n)
}

// collectProcNet reads /proc/net/tcp{,6} into one slice.
func (p *Provider) collectProcNet(ctx context.Context, q tcptable.Query, mask uint32, buf []tcptable.Connection) ([]tcptable.Connection, error) {
	fams := families(q)
	n := 0
	for _, fam := range fams {
		n += p.sizeHint(q, mask, fam)
	}
	rows := makeRows(n)[:0]
	if cap(buf) > 0 && cap(buf) >= p.fams[0].last {
		rows = buf[:0] // the answer is appended: it grows if it must
	}
	add := p.adder(q, mask, p.zoner(), p.fams[0].dedup, &rows, nil)
	p.fams[0].dedup.reset(n)
	err := p.readProcNet(ctx, q, add)
	p.fams[0].last, p.fams[1].last = len(rows), 0
	if q.Stats {
		// /proc/net/tcp has no traffic counters (docs/linux.md).
		for i := range rows {
			rows[i].StatsStatus = tcptable.StatsNotSupported
		}
	}
	return rows, err
}

// adder returns the function that turns a kernel row into a Connection of
// *rows if q's state and address conditions accept it, with its Stats from
// stats (nil: not requested).
func (p *Provider) adder(q tcptable.Query, mask uint32, zone zoner, d *dedup, rows *[]tcptable.Connection, stats *statsSlab) func(*diagRow) {
	return func(r *diagRow) {
		if mask&(1<<r.State) == 0 {
			return
		}
		c, ok := connFromRow(r, zone)
		if ok && q.MatchAddr(&c) {
			stats.fill(&c, r)
			*rows = d.add(*rows, &c)
		}
	}
}

// zoner returns the zone namer for this call: interface names of the
// caller's namespace, looked up once per index, or numeric zones for
// another namespace (whose interface names this process cannot see).
func (p *Provider) zoner() zoner {
	if p.nsFD >= 0 {
		return numericZone
	}
	names := map[uint32]string{}
	return func(idx uint32) string {
		if n, ok := names[idx]; ok {
			return n
		}
		n := numericZone(idx)
		if ifi, err := net.InterfaceByIndex(int(idx)); err == nil && ifi.Name != "" {
			n = ifi.Name
		}
		names[idx] = n
		return n
	}
}

// sizeHint is the capacity to allocate for a family's rows: the previous
// answer's size and an eighth, or, for a first query of the whole table,
// the kernel's count of the family's TCP sockets in the namespace
// (/proc/net/sockstat or sockstat6), so that a large table is allocated
// once rather than grown (which would hold two copies at the peak).
func (p *Provider) sizeHint(q tcptable.Query, mask uint32, fam uint8) int {
	f := &p.fams[famIndex(fam)]
	if f.last > 0 {
		return f.last + f.last/8 + minRows
	}
	if mask != stateMask(tcptable.Query{}) || q.LocalPort != 0 || q.RemotePort != 0 || q.Port != 0 {
		return minRows
	}
	name := "sockstat"
	if fam == afInet6 {
		name = "sockstat6"
	}
	n := 0
	read := func(dir string) {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			n = parseSockstat(b)
		}
	}
	if p.nsFD < 0 {
		read(filepath.Join(p.cfg.procRoot, "net"))
	} else {
		_ = inNetNS(p.nsFD, func() error { read("/proc/thread-self/net"); return nil })
	}
	return min(n, maxSizeHint) + minRows
}

// minRows is the smallest region allocated for a family.
const minRows = 16

// maxSizeHint caps the capacity taken from the kernel's socket count.
const maxSizeHint = 4 << 20
