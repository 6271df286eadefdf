package linux

import (
	"context"
	"errors"
	"sync"

	"github.com/tcptable/tcptable"
)

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

// collectNetlink dumps the families q can match, each on its own socket and
// goroutine so that the kernel walks them in parallel, into regions of one
// slice (buf's array if large enough) sized from the previous answer (or
// the kernel's socket counts), and
// closes the gap between them. A family that outgrows its region gets its
// own array, and the parts are then copied into a new slice.
func (p *Provider) collectNetlink(ctx context.Context, q tcptable.Query, mask uint32, buf []tcptable.Connection) ([]tcptable.Connection, error) {
	fams := families(q)
	caps := make([]int, len(fams))
	total := 0
	for i, fam := range fams {
		f := &p.fams[famIndex(fam)]
		if f.conn == nil {
			if err := p.openDiag(f); err != nil {
				return nil, err
			}
		}
		caps[i] = p.sizeHint(q, mask, fam)
		total += caps[i]
	}
	if cap(buf) > 0 && cap(buf) < total {
		total = p.fitBuf(fams, caps, cap(buf), total)
	}
	rows := rowsOf(buf, total)
	var ext uint8
	var stats []tcptable.Stats // the answer's Stats, in regions as rows
	if q.Stats {
		ext, stats = extInfo, makeAdvised[tcptable.Stats](total)
	}
	parts := make([][]tcptable.Connection, len(fams))
	errs := make([]error, len(fams))
	var wg sync.WaitGroup
	off := 0
	for i, fam := range fams {
		parts[i] = rows[off : off : off+caps[i]]
		var slab *statsSlab
		if stats != nil {
			slab = newStatsSlab(stats[off : off+caps[i]])
		}
		off += caps[i]
		f := &p.fams[famIndex(fam)]
		run := func() {
			f.dedup.reset(caps[i])
			add := p.adder(q, mask, p.zoner(), f.dedup, &parts[i], slab)
			errs[i] = dumpFamilies(ctx, []uint8{fam}, mask, ext, p.cfg.dumpRetries, f.conn.dump, &parts[i], add)
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
