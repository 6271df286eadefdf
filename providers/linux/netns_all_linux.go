package linux

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux/internal/owners"
)

// nsSpace is one network namespace of a WithAllNetNS provider and what the
// provider keeps of it between calls.
type nsSpace struct {
	nsFound
	own   bool      // the caller's namespace: no setns, interface names for zones
	conn  *diagConn // its sock_diag socket; nil until opened or after an abandoned dump
	dedup *dedup
	last  int    // rows in the previous answer, to size the next
	hint  int    // the kernel's count of its TCP sockets, read when the socket was opened
	seen  uint64 // the last call that found it
	err   error  // why this call did not read it
}

// allNetNS is what a WithAllNetNS provider keeps between calls.
type allNetNS struct {
	spaces map[uint64]*nsSpace
	order  []*nsSpace // this call's namespaces, by inode
	gen    uint64
	bufs   [][]byte    // the dump workers' receive buffers, lent to the sockets
	compat atomic.Bool // both families in one request (dumpEveryFamily)
}

// initNetNS prepares the namespace naming and, with WithAllNetNS, the
// namespaces' state; the caller's namespace takes over the socket New
// opened.
func (p *Provider) initNetNS() error {
	_, dev, err := nsfsOf("/proc/self/ns/net")
	if err != nil {
		return err
	}
	p.namer = netnsNamer{dir: netnsRunDir, dev: dev}
	if !p.cfg.allNetNS {
		return nil
	}
	own := &nsSpace{nsFound: nsFound{ino: p.netns}, own: true, dedup: newDedup(), conn: p.fams[0].conn}
	p.fams[0].conn = nil
	p.all = &allNetNS{spaces: map[uint64]*nsSpace{p.netns: own}}
	p.all.compat.Store(true)
	return nil
}

// collectNS reads the rows matching q's state and address conditions from
// every namespace with WithAllNetNS, else from the provider's namespace,
// and stamps each row with its namespace.
func (p *Provider) collectNS(ctx context.Context, q tcptable.Query, buf []tcptable.Connection) ([]tcptable.Connection, error) {
	if p.all != nil {
		return p.collectAll(ctx, q, buf)
	}
	rows, err := p.collect(ctx, q, buf)
	name := p.namer.lookup()[p.netns]
	for i := range rows {
		rows[i].NetNS, rows[i].NetNSName = p.netns, name
	}
	return rows, err
}

// traceConverter returns a converter of kernel rows for a trace, which
// are stamped with the provider's namespace as Table's rows are.
func (p *Provider) traceConverter() converter {
	p.mu.Lock()
	defer p.mu.Unlock()
	return converter{zone: p.zoner(), netns: p.netns, netnsName: p.namer.lookup()[p.netns]}
}

// ownersNetNS is the namespace whose processes the owner search reads
// first: every one for WithAllNetNS.
func (p *Provider) ownersNetNS() uint64 {
	if p.all != nil {
		return owners.AllNetNS
	}
	return p.netns
}

// NetNamespaces returns the network namespaces the last Table call read
// or tried to read, ordered by inode, each with why it was skipped (Err):
// with WithAllNetNS every namespace found, nil before the first call;
// otherwise the provider's one namespace.
func (p *Provider) NetNamespaces() []NetNS {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.all == nil {
		return []NetNS{{Inode: p.netns, Name: p.namer.lookup()[p.netns]}}
	}
	var out []NetNS
	for _, s := range p.all.order {
		out = append(out, NetNS{Inode: s.ino, Name: s.name, Err: s.err})
	}
	return out
}

// collectAll is collect for every namespace: it finds the namespaces
// (closing the sockets of those gone), opens sockets in those new to it,
// then dumps them all in parallel into regions of one slice (buf's array
// if large enough) sized from their previous answers or socket counts,
// and joins the regions. A namespace that cannot be entered is skipped
// (NetNamespaces says why); a dump that fails fails the call.
func (p *Provider) collectAll(ctx context.Context, q tcptable.Query, buf []tcptable.Connection) ([]tcptable.Connection, error) {
	a := p.all
	if err := p.discover(); err != nil {
		return nil, err
	}
	mask := stateMask(q)
	if mask == 0 {
		return []tcptable.Connection{}, nil
	}
	workers := runtime.GOMAXPROCS(0)
	if p.source != SourceProcNet {
		var fresh []*nsSpace
		for _, s := range a.order {
			if s.conn == nil {
				fresh = append(fresh, s)
			}
		}
		forEach(len(fresh), workers, func(_, i int) { p.openSpace(fresh[i]) })
	}
	caps := make([]int, len(a.order))
	total := 0
	whole := mask == stateMask(tcptable.Query{}) && q.Family == tcptable.AnyFamily &&
		q.LocalPort == 0 && q.RemotePort == 0 && q.Port == 0
	for i, s := range a.order {
		switch {
		case s.err != nil:
		case s.last > 0:
			caps[i] = s.last + s.last/8 + 4
		case whole:
			caps[i] = min(s.hint, maxSizeHint) + 4
		default:
			caps[i] = 4
		}
		total += caps[i]
	}
	rows := rowsOf(buf, total)
	var ext uint8
	var stats []tcptable.Stats
	if p.source != SourceProcNet {
		ext, stats = answerStats(q, total)
	}
	parts := make([][]tcptable.Connection, len(a.order))
	slabs := make([]*statsSlab, len(a.order))
	off := 0
	for i := range parts {
		parts[i] = rows[off : off : off+caps[i]]
		slabs[i] = regionSlab(stats, off, caps[i])
		off += caps[i]
	}
	for len(a.bufs) < workers {
		a.bufs = append(a.bufs, nil)
	}
	errs := make([]error, len(a.order))
	forEach(len(a.order), workers, func(w, i int) {
		if s := a.order[i]; s.err == nil {
			errs[i] = p.dumpSpace(ctx, s, q, mask, ext, slabs[i], &parts[i], &a.bufs[w])
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := firstHardError(errs); err != nil {
		return nil, err
	}
	return joinParts(rows, parts, caps), errors.Join(errs...)
}

// discover updates the namespaces: new ones are added, those gone are
// forgotten and their sockets closed (a socket keeps its namespace alive).
func (p *Provider) discover() error {
	a := p.all
	found, err := discoverNetNS(p.cfg.procRoot, &p.namer, p.netns)
	if err != nil {
		return fmt.Errorf("find network namespaces: %w", err)
	}
	a.gen++
	a.order = a.order[:0]
	for _, f := range found {
		s := a.spaces[f.ino]
		if s == nil {
			s = &nsSpace{dedup: newDedup()}
			a.spaces[f.ino] = s
		}
		s.nsFound, s.seen, s.err = f, a.gen, nil
		a.order = append(a.order, s)
	}
	for ino, s := range a.spaces {
		if s.seen != a.gen {
			s.close()
			delete(a.spaces, ino)
		}
	}
	return nil
}

// openSpace opens the namespace's sock_diag socket, from inside it unless
// it is the caller's, and reads its socket count there to size its first
// answer. A failure is kept in s.err: the namespace is skipped.
func (p *Provider) openSpace(s *nsSpace) {
	if s.own {
		d, err := openDiag()
		if err != nil {
			s.err = fmt.Errorf("network namespace %d: %w", s.ino, err)
			return
		}
		s.conn, s.hint = d, sockstatCount(filepath.Join(p.cfg.procRoot, "net"))
		s.conn.buf = nil // the workers lend theirs
		return
	}
	fd, err := openNetNSAt(s.path, s.ino)
	if err != nil {
		s.err = s.wrap(err)
		return
	}
	defer unix.Close(fd)
	d, err := openDiagIn(fd, func() { s.hint = sockstatCount("/proc/thread-self/net") })
	if err != nil {
		s.err = s.wrap(err)
		return
	}
	s.conn = d
	s.conn.buf = nil
}

// wrap names the namespace in err.
func (s *nsSpace) wrap(err error) error {
	if s.name != "" {
		return fmt.Errorf("network namespace %d (%s): %w", s.ino, s.name, err)
	}
	return fmt.Errorf("network namespace %d: %w", s.ino, err)
}

// dumpSpace reads the namespace's rows into *part, with the extensions ext
// and their Stats from slab (nil: not requested), with the receive buffer
// *buf (allocated on first use), and stamps them with the namespace. The
// dump asks for the recorder's birth times as collectNetlink's do (only
// the caller's namespace's sockets have them: the recorder follows one).
func (p *Provider) dumpSpace(ctx context.Context, s *nsSpace, q tcptable.Query, mask uint32, ext uint8, slab *statsSlab,
	part *[]tcptable.Connection, buf *[]byte) error {
	zone := zoner(numericZone) // another namespace's interface names are not ours to look up
	if s.own {
		zone = p.zoner()
	}
	s.dedup.reset(cap(*part))
	add := p.adder(q, mask, zone, s.dedup, part, slab)
	var err error
	if p.source == SourceProcNet {
		err = p.readSpaceProcNet(ctx, s, q, add)
		procNetStats(q, *part)
	} else {
		if *buf == nil {
			*buf = make([]byte, recvBufLen)
		}
		s.conn.buf = *buf
		s.conn.storageFD = p.birthFD
		err = dumpEveryFamily(ctx, diagFamilies(q), mask, ext, p.cfg.dumpRetries, s.conn.dump, part, add, &p.all.compat)
		s.conn.buf = nil
		if errors.Is(err, errDumpAborted) {
			s.conn.close() // the rest of the dump is still queued on it
			s.conn = nil
		}
	}
	s.last = len(*part)
	for i := range *part {
		(*part)[i].NetNS, (*part)[i].NetNSName = s.ino, s.name
	}
	if err != nil {
		return s.wrap(err)
	}
	return nil
}

// readSpaceProcNet reads the namespace's /proc/net/tcp{,6}: under the
// /proc root for the caller's, from a thread inside it for the others.
func (p *Provider) readSpaceProcNet(ctx context.Context, s *nsSpace, q tcptable.Query, add func(*diagRow)) error {
	if s.own {
		return readProcNetDir(ctx, filepath.Join(p.cfg.procRoot, "net"), q, add)
	}
	fd, err := openNetNSAt(s.path, s.ino)
	if err != nil {
		s.err = s.wrap(err)
		return nil // skipped, as when a socket cannot be opened
	}
	defer unix.Close(fd)
	entered := false
	err = inNetNS(fd, func() error {
		entered = true
		return readProcNetDir(ctx, "/proc/thread-self/net", q, add)
	})
	if err != nil && !entered {
		s.err = s.wrap(err)
		return nil
	}
	return err
}

// close closes the namespace's socket.
func (s *nsSpace) close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.close()
	s.conn = nil
	return err
}

// closeAll closes every namespace's socket.
func (a *allNetNS) closeAll() error {
	var errs []error
	for _, s := range a.spaces {
		errs = append(errs, s.close())
	}
	return errors.Join(errs...)
}

// sockstatCount is the number of TCP sockets /proc/net/sockstat and
// sockstat6 under dir count, 0 if unreadable.
func sockstatCount(dir string) int {
	n := 0
	for _, name := range []string{"sockstat", "sockstat6"} {
		n += readSockstat(filepath.Join(dir, name))
	}
	return n
}

// forEach calls fn(w, i) for every i below n on up to workers goroutines;
// w is the calling worker's index, below workers.
func forEach(n, workers int, fn func(w, i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range min(n, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(w, i)
			}
		}()
	}
	wg.Wait()
}
