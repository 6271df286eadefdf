package owners

import (
	"context"
	"slices"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux/internal/fditer"
)

// UseIter loads the descriptor iterator and makes the resolver scan with
// it. Where the kernel or the caller cannot run it, it returns why and the
// resolver stays on /proc. With strict, a later failure of the iterator
// is an error of the poll; without, the resolver goes back to /proc for
// good.
func (r *Resolver) UseIter(strict bool) error {
	it, err := fditer.Open(r.rootFD)
	if err != nil {
		return err
	}
	r.iter, r.iterStrict, r.perProcess = it, strict, it.PerProcess()
	return nil
}

// BPF reports whether the resolver scans with the descriptor iterator.
func (r *Resolver) BPF() bool { return r.iter != nil }

// beginKernel reads the descriptor lists a poll needs before the table is
// known. Where processes of other network namespaces exist and the kernel
// can iterate one process at a time, it reads, one process at a time, the
// lists of the queried namespace's processes that are new or older than
// the revalidation interval (all without the cache), as the /proc scan
// does; the other namespaces are read only if a socket finds no owner
// (finishKernel). Otherwise it runs the iterator over every process when
// kernelScanDue. It reports false if the iterator failed and the resolver
// went back to /proc.
func (r *Resolver) beginKernel(ctx context.Context) (bool, error) {
	if r.nsFirst() {
		stale := r.stale(r.inNS, false)
		if len(stale) == 0 {
			return true, nil // nil would mean every process
		}
		return r.scanKernel(ctx, stale)
	}
	if !r.kernelScanDue() {
		return true, nil // the lists are trusted; finishKernel scans if a socket has no owner
	}
	return r.scanKernel(ctx, nil)
}

// nsFirst reports whether this poll reads the queried namespace's
// processes first, one at a time.
func (r *Resolver) nsFirst() bool { return r.perProcess && len(r.others) > 0 }

// kernelScanDue reports whether a poll must run the iterator over every
// process: without the cache, on the first poll, once the revalidation
// interval has passed since the last such scan, and when a process
// appeared since (it may hold a socket inherited from one already listed).
// Otherwise the lists of the last scan are trusted.
func (r *Resolver) kernelScanDue() bool {
	if !r.cache || r.iterAt.IsZero() || r.now().Sub(r.iterAt) >= r.ttl {
		return true
	}
	for _, e := range r.procs { // inNS and others, after refresh
		if e.listed.IsZero() {
			return true
		}
	}
	return false
}

// finishKernel assigns the owners from the iterator's lists and, if a
// socket is left without one and is not one that the last poll could not
// place either, runs the iterator over every process (unless this poll
// did) and assigns them again, then, if sockets are still left, reads the
// processes it reported nothing for from /proc (probeHidden). It returns
// how many sockets are left without an owner. If the iterator fails
// (OwnerScanAuto), r.iter is nil on return and the caller goes on from
// /proc.
func (r *Resolver) finishKernel(ctx context.Context, rows []tcptable.Connection) (int, error) {
	left := r.assignKernel(rows)
	if left == 0 || r.knownUnresolvable(rows) {
		return left, nil
	}
	if !r.iterated {
		ok, err := r.scanKernel(ctx, nil)
		if err != nil || !ok {
			clearOwners(rows)
			return 0, err
		}
		if left = r.assignKernel(rows); left == 0 {
			return 0, nil
		}
	}
	return r.probeHidden(ctx, rows)
}

// probeHidden reads from /proc the descriptors of the processes for which
// the iterator reported no socket, and assigns the owners again. A kernel
// may hide a process from BPF task iterators (a sandbox protecting its
// init from root does), and such a process may hold the sockets left
// without an owner; if /proc refuses it too, it is marked denied and the
// rows say permission denied rather than not found. It costs a read of
// /proc per process without sockets, once: the sockets left are then
// known unresolvable and later polls do not probe again.
func (r *Resolver) probeHidden(ctx context.Context, rows []tcptable.Connection) (int, error) {
	var quiet []*procEntry
	for _, e := range r.procs {
		if len(e.fds) == 0 {
			quiet = append(quiet, e)
		}
	}
	if err := r.scanAll(ctx, quiet, false, 0); err != nil {
		return 0, err
	}
	return r.assignKernel(rows), nil
}

// assignKernel clears every owner and assigns them again from the lists
// of the queried namespace's processes and, unless only those were read
// (nsFirst), from the others' lists.
func (r *Resolver) assignKernel(rows []tcptable.Connection) int {
	clearOwners(rows)
	left := r.assign(rows, r.inNS, len(r.wanted))
	if r.iterated || !r.nsFirst() {
		left = r.assign(rows, r.others, left)
	}
	return left
}

// scanKernel fills the descriptor lists with the sockets the iterator
// reports: of every process (procs nil; processes started since the
// listing are added) or of procs, one at a time. It reports false when the
// iterator failed and the resolver, in OwnerScanAuto, has gone back to
// /proc for good (the lists are then emptied and marked unread, so that
// the /proc walk reads them in full).
func (r *Resolver) scanKernel(ctx context.Context, procs []*procEntry) (bool, error) {
	var err error
	if procs == nil {
		for _, e := range r.procs {
			e.fds = e.fds[:0]
		}
		r.iterRuns++
		err = r.iter.Scan(ctx, r.kernelRecorder())
	} else {
		for _, e := range procs {
			e.fds = e.fds[:0]
			r.iterRuns++
			if err = r.iter.ScanProcess(ctx, e.pid, r.kernelRecorder()); err != nil {
				break
			}
		}
	}
	if err != nil && ctx.Err() == nil && !r.iterStrict {
		r.iter.Close()
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
	if procs == nil {
		r.iterAt, r.iterated = now, true
		for _, e := range r.procs {
			r.scanned(e, now)
		}
	}
	for _, e := range procs {
		r.scanned(e, now)
	}
	return true, nil
}

// scanned marks a process's list as read by the iterator in this poll. It
// leaves denied as the last read from /proc found it (probeHidden): the
// iterator cannot tell a process without sockets from one hidden from it.
func (r *Resolver) scanned(e *procEntry, now time.Time) {
	e.scanGen, e.listed = r.gen, now
	e.partial, e.gone = false, false
	// A thread with a file table of its own comes as a task of its own.
	if !slices.IsSortedFunc(e.fds, byFD) {
		slices.SortFunc(e.fds, byFD)
	}
}

// kernelRecorder returns the function that appends the iterator's records
// to the processes' lists, adding a process started since the listing.
func (r *Resolver) kernelRecorder() func(pid, fd uint32, ino uint64) {
	var cur *procEntry
	curPID, curSet := uint32(0), false
	return func(pid, fd uint32, ino uint64) {
		if !curSet || pid != curPID {
			curPID, curSet = pid, true
			if cur = r.procs[pid]; cur == nil {
				r.see(pid, r.netns)
				cur = r.procs[pid]
			}
		}
		if cur != nil && fd <= maxFD {
			cur.fds = append(cur.fds, fdSock{fd: int32(fd), ino: uint32(ino)})
		}
	}
}

// maxFD is the largest descriptor number a process can have.
const maxFD = 1<<31 - 1

func byFD(a, b fdSock) int { return int(a.fd) - int(b.fd) }
