package linux

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
)

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

// collectNetlink dumps the families q can match, each on its own socket and
// goroutine so that the kernel walks them in parallel, into regions of one
// slice (buf's array if large enough) sized from the previous answer (or
// the kernel's socket counts), and
// closes the gap between them. A family that outgrows its region gets its
// own array, and the parts are then copied into a new slice.
func (p *Provider) collectNetlink(ctx context.Context, q tcptable.Query, mask uint32, buf []tcptable.Connection) ([]tcptable.Connection, error) {
	fams := diagFamilies(q)
	caps := make([]int, len(fams))
	total := 0
	for i, fam := range fams {
		f := &p.fams[famIndex(fam)]
		if f.conn == nil {
			if err := p.openDiag(f); err != nil {
				return nil, err
			}
		}
		caps[i] = p.sizeHint(q, familyMask(q, mask, fam), fam)
		total += caps[i]
	}
	if cap(buf) > 0 && cap(buf) < total {
		total = p.fitBuf(fams, caps, cap(buf), total)
	}
	rows := rowsOf(buf, total)
	ext, stats := answerStats(q, total)
	parts := make([][]tcptable.Connection, len(fams))
	errs := make([]error, len(fams))
	var wg sync.WaitGroup
	off := 0
	for i, fam := range fams {
		parts[i] = rows[off : off : off+caps[i]]
		slab := regionSlab(stats, off, caps[i])
		off += caps[i]
		f := &p.fams[famIndex(fam)]
		fmask := familyMask(q, mask, fam)
		run := func() {
			f.dedup.reset(caps[i])
			f.conn.storageFD = p.birthFD
			add := p.adder(q, fmask, p.zoner(), f.dedup, &parts[i], slab)
			errs[i] = dumpFamilies(ctx, []uint8{fam}, fmask, ext, p.cfg.dumpRetries, f.conn.dump, &parts[i], add)
			if errors.Is(errs[i], errDumpAborted) {
				f.conn.close() // the rest of the dump is still queued on it
				f.conn = nil
			}
			f.last = len(parts[i])
		}
		if i == len(fams)-1 {
			run()
		} else {
			wg.Add(1)
			go func() { defer wg.Done(); run() }()
		}
	}
	wg.Wait()
	if err := firstHardError(errs); err != nil {
		return nil, err
	}
	return joinParts(rows, parts, caps), errors.Join(errs...)
}

// fitBuf resizes the families' regions (caps, from sizeHint, which adds
// slack) to share a reused buffer of capacity n too small for the slack
// but large enough for the previous answer's rows, and returns the new
// total; otherwise it returns total unchanged. A family that outgrows its
// region then gets its own array, as with any region.
func (p *Provider) fitBuf(fams []uint8, caps []int, n, total int) int {
	need := 0
	for _, fam := range fams {
		need += p.fams[famIndex(fam)].last
	}
	if n < need || n == 0 || len(fams) == 0 {
		return total
	}
	extra := (n - need) / len(fams)
	for i, fam := range fams {
		caps[i] = p.fams[famIndex(fam)].last + extra
	}
	return need + extra*len(fams)
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
	procNetStats(q, rows)
	return rows, err
}

// rowsOf returns n rows backed by buf if its capacity allows, else new ones.
func rowsOf(buf []tcptable.Connection, n int) []tcptable.Connection {
	if cap(buf) >= n {
		return buf[:n]
	}
	return makeRows(n)
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
	read := func(dir string) { n = readSockstat(filepath.Join(dir, name)) }
	if p.nsFD < 0 {
		read(filepath.Join(p.cfg.procRoot, "net"))
	} else {
		_ = inNetNS(p.nsFD, func() error { read("/proc/thread-self/net"); return nil })
	}
	return min(n, maxSizeHint) + minRows
}

// answerStats returns what a dump answering q with room for total rows
// asks the kernel for (idiag_ext) and, with Query.Stats, the answer's
// Stats: one array, handed out in regions as the rows are (regionSlab).
func answerStats(q tcptable.Query, total int) (ext uint8, stats []tcptable.Stats) {
	if !q.Stats {
		return 0, nil
	}
	return extInfo, makeAdvised[tcptable.Stats](total)
}

// readSockstat returns the TCP socket count of the sockstat file at path,
// 0 if it cannot be read; a FIFO or other file that is not regular there
// (under WithProcRoot) is not read.
func readSockstat(path string) int {
	f, err := openRegular(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return 0
	}
	return parseSockstat(b)
}

// minRows is the smallest region allocated for a family.
const minRows = 16

// maxSizeHint caps the capacity taken from the kernel's socket count.
const maxSizeHint = 4 << 20

// adder returns the function that turns a kernel row into a Connection of
// *rows if q's state and address conditions accept it, with its Stats from
// stats (nil: not requested).
func (p *Provider) adder(q tcptable.Query, mask uint32, zone zoner, d *dedup, rows *[]tcptable.Connection, stats *statsSlab) func(*diagRow) {
	return func(r *diagRow) {
		if !stateWanted(mask, r.State) {
			return
		}
		c, ok := connFromRow(r, zone)
		if r.Birth != 0 {
			c.Created = p.birthClock.Wall(r.Birth)
		} else if b, known := p.births.Birth(r.Cookie); known && r.Inode == 0 {
			c.Created = p.birthClock.Wall(b) // a TIME-WAIT minisocket's connection
		}
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

// famState is a family's sock_diag socket and what the provider remembers
// between calls for it.
type famState struct {
	fam   uint8
	conn  *diagConn
	dedup *dedup
	last  int // rows in the previous answer, to size the next one
}

// famIndex is fam's index in Provider.fams.
func famIndex(fam uint8) int {
	if fam == afInet6 {
		return 1
	}
	return 0
}

// openDiag opens a family's sock_diag socket, inside the queried
// namespace.
func (p *Provider) openDiag(f *famState) error {
	d, err := p.newDiagConn()
	f.conn = d
	return err
}

// newDiagConn opens a sock_diag socket inside the queried namespace.
func (p *Provider) newDiagConn() (*diagConn, error) {
	if p.nsFD < 0 {
		return openDiag()
	}
	return openDiagIn(p.nsFD, nil)
}

// openDiagIn opens a sock_diag socket inside the namespace nsFD, from a
// thread that enters it, and then runs then (if not nil) on that thread.
// The socket is closed again if the thread cannot leave the namespace.
func openDiagIn(nsFD int, then func()) (*diagConn, error) {
	var d *diagConn
	err := inNetNS(nsFD, func() (err error) {
		if d, err = openDiag(); err == nil && then != nil {
			then()
		}
		return err
	})
	if err != nil && d != nil {
		d.close()
		d = nil
	}
	return d, err
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
