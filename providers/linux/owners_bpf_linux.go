package linux

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tcptable/tcptable"
)

// useIter loads the descriptor iterator unless scan is OwnerScanProcfs.
// With OwnerScanAuto a kernel or caller that cannot run it leaves the
// resolver on /proc; with OwnerScanBPF that is an error wrapping
// tcptable.ErrNotSupported.
func (r *resolver) useIter(scan OwnerScan) error {
	switch scan {
	case OwnerScanProcfs:
		return nil
	case OwnerScanAuto, OwnerScanBPF:
	default:
		return fmt.Errorf("tcptable/linux: %w: unknown owner scan %v", tcptable.ErrInvalid, scan)
	}
	it, err := openFDIter(r.rootFD)
	if err != nil {
		if scan == OwnerScanBPF {
			return fmt.Errorf("tcptable/linux: %v owner scan on linux: %w: %w", scan, tcptable.ErrNotSupported, err)
		}
		return nil // stay on /proc
	}
	r.iter, r.iterStrict = it, scan == OwnerScanBPF
	return nil
}

// kernelScanDue reports whether this poll must run the descriptor
// iterator before the table is known: without the cache, on the first
// poll, once the revalidation interval has passed since the last scan, and
// when a process appeared since (it may hold a socket inherited from one
// already listed). Otherwise the lists of the last scan are trusted and
// finishKernel scans only if some socket finds no owner in them.
func (r *resolver) kernelScanDue() bool {
	if !r.cache || r.iterAt.IsZero() || r.now().Sub(r.iterAt) >= r.ttl {
		return true
	}
	for _, procs := range [][]*procEntry{r.inNS, r.others} {
		for _, e := range procs {
			if e.listed.IsZero() {
				return true
			}
		}
	}
	return false
}

// finishKernel assigns the owners from the iterator's lists, first running
// the iterator if this poll has not and a socket without an owner is not
// one that the last scan could not place either. It returns how many
// sockets are left without one. If the iterator fails (OwnerScanAuto),
// r.iter is nil on return and the caller goes on from /proc.
func (r *resolver) finishKernel(ctx context.Context, rows []tcptable.Connection) (int, error) {
	left := r.assignAll(rows)
	if left == 0 || r.iterated || r.knownUnresolvable(rows) {
		return left, nil
	}
	ok, err := r.scanKernel(ctx)
	if err != nil || !ok {
		clearOwners(rows)
		return 0, err
	}
	r.iterated = true
	return r.assignAll(rows), nil
}

// assignAll clears every owner and assigns them again from every process's
// list.
func (r *resolver) assignAll(rows []tcptable.Connection) int {
	clearOwners(rows)
	return r.assign(rows, r.others, r.assign(rows, r.inNS, len(r.wanted)))
}

// scanKernel fills every process's descriptor list with its sockets as the
// descriptor iterator reports them, adding processes started since the
// listing. It reports false when the iterator failed and the resolver, in
// OwnerScanAuto, has gone back to /proc for good (the lists are then
// marked unread, so that the /proc walk reads them in full).
func (r *resolver) scanKernel(ctx context.Context) (bool, error) {
	netns := r.netns
	for _, e := range r.procs {
		e.fds = e.fds[:0]
	}
	var cur *procEntry
	curPID, curSet := uint32(0), false
	err := r.iter.scan(ctx, func(pid, fd uint32, ino uint64) {
		if !curSet || pid != curPID {
			curPID, curSet = pid, true
			if cur = r.procs[pid]; cur == nil {
				r.see(pid, netns) // started after the listing
				cur = r.procs[pid]
			}
		}
		if cur != nil && fd <= maxFD {
			cur.fds = append(cur.fds, fdSock{fd: int32(fd), ino: uint32(ino)})
		}
	})
	if err != nil && ctx.Err() == nil && !r.iterStrict {
		r.iter.close()
		r.iter = nil
		for _, e := range r.procs {
			e.fds, e.listed = e.fds[:0], time.Time{}
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	now := r.now()
	r.iterAt = now
	for _, e := range r.procs {
		e.scanGen, e.listed = r.gen, now
		e.denied, e.partial, e.gone = false, false, false
		// A thread with a file table of its own comes as a task of its own.
		if !slices.IsSortedFunc(e.fds, byFD) {
			slices.SortFunc(e.fds, byFD)
		}
	}
	return true, nil
}

// maxFD is the largest descriptor number a process can have.
const maxFD = 1<<31 - 1

func byFD(a, b fdSock) int { return int(a.fd) - int(b.fd) }
