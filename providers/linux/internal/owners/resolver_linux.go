package owners

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux/internal/bytesconv"
	"github.com/tcptable/tcptable/providers/linux/internal/fditer"
)

// fdSock is one descriptor of a process: its number and, if it is a
// socket, the socket's inode (0 otherwise).
type fdSock struct {
	fd  int32
	ino uint32
}

// procEntry is what the resolver knows about one process, identified by
// its PID and start time so that a reused PID is a new entry.
type procEntry struct {
	pid     uint32
	dir     string // "PID", relative to the /proc root
	start   uint64 // /proc/PID/stat starttime
	ppid    uint32 // its parent, as of the last poll
	netns   uint64 // inode of its network namespace, 0 if unreadable
	fds     []fdSock
	spare   []fdSock  // the previous scan's slice, reused (and filled by the BPF scan) by the next
	gen     uint64    // last poll that saw the process
	listed  time.Time // when fds was last read from /proc/PID/fd; zero: never
	scanGen uint64    // last poll that read /proc/PID/fd
	denied  bool      // its descriptors are not readable by the caller
	partial bool      // fds holds only the lowest descriptors (a first-owner round)
	gone    bool      // it exited while being scanned
	// recheck makes the next poll read the list in full, trusting
	// nothing: a child of it appeared (it may hold a socket the child
	// inherited), or it runs another program (close-on-exec descriptors
	// are gone, numbers may be reused).
	recheck bool

	// What /proc/PID/stat said of its program at the last poll: a change
	// means it exec'd (or renamed itself), see procStat.
	comm        string
	code, stack uint64

	modStatus tcptable.OwnerStatus // 0 until the module is loaded
	mod       tcptable.Module
	container string // Connection.Container, valid once cgLoaded
	cgLoaded  bool
}

// Resolver maps socket inodes to owning processes through /proc. It is
// not safe for concurrent use; the provider serializes calls.
type Resolver struct {
	root     string
	rootFD   int
	cache    bool          // trust descriptors seen by earlier polls
	ttl      time.Duration // how long a process's descriptor list is trusted
	first    bool          // WithFirstOwnerOnly: stop once every socket has an owner
	now      func() time.Time
	ticks    func() uint64 // clock ticks since boot (bootTicks)
	procs    map[uint32]*procEntry
	gen      uint64
	scanners []*scanner
	statBuf  []byte
	fileBuf  []byte // /proc/PID/cgroup
	dr       dirReader

	iter       *fditer.Iter // the descriptor iterator (OwnerScanBPF), nil for /proc
	perProcess bool         // the iterator can read one process at a time
	iterStrict bool         // OwnerScanBPF was asked for: its failure is an error
	iterAt     time.Time    // when the iterator last read every process
	iterated   bool         // it read every process in this poll
	iterRuns   int          // iterator runs (over every process, or one) so far
	netns      uint64       // the queried namespace, for this poll

	// Per poll.
	inNS, others []*procEntry
	born         []*procEntry        // processes first seen in this poll
	goneInodes   []uint32            // sockets held by processes that exited since the last poll
	wanted       map[uint32]int32    // inode -> row index
	wantedSize   int                 // the size wanted was made for
	unresolvable map[uint32]struct{} // inodes a full walk did not find last time
}

// AllNetNS is the namespace Begin takes for a table of every network
// namespace: every process is searched first.
const AllNetNS = 0

// New opens the /proc root.
func New(root string, cache bool, ttl time.Duration, workers int, first bool) (*Resolver, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open proc root", Path: root, Err: err}
	}
	r := &Resolver{
		root:         root,
		rootFD:       fd,
		cache:        cache,
		ttl:          ttl,
		first:        first,
		now:          time.Now,
		ticks:        bootTicks,
		procs:        map[uint32]*procEntry{},
		statBuf:      make([]byte, 1024),
		wanted:       map[uint32]int32{},
		unresolvable: map[uint32]struct{}{},
	}
	for range max(workers, 1) {
		r.scanners = append(r.scanners, &scanner{})
	}
	return r, nil
}

// Close releases the /proc root and the descriptor iterator.
func (r *Resolver) Close() error {
	if r.iter != nil {
		r.iter.Close()
	}
	return unix.Close(r.rootFD)
}

// Begin lists the processes, sorts them into those of network namespace
// netns (every process when netns is AllNetNS) and the others, and reads the descriptors that the poll needs
// before the table is known: with the descriptor iterator see beginKernel;
// from /proc those of the namespace's processes that are new or whose list
// is older than the revalidation interval (all of them without the cache).
// It needs no table, so the provider runs it while the kernel dumps the
// sockets.
func (r *Resolver) Begin(ctx context.Context, netns uint64) error {
	r.gen++
	r.goneInodes = r.goneInodes[:0]
	r.inNS, r.others, r.born = r.inNS[:0], r.others[:0], r.born[:0]
	r.iterated, r.netns = false, netns
	if err := r.refresh(netns); err != nil {
		return err
	}
	if r.iter != nil {
		if ok, err := r.beginKernel(ctx); ok || err != nil {
			return err
		}
		// The iterator failed: go on from /proc.
	}
	if r.first {
		return nil // finish searches breadth-first once it knows what it looks for
	}
	return r.scanAll(ctx, r.stale(r.inNS, false), r.cache, 0)
}

// stale returns the processes of procs whose descriptor list must be read
// in this poll: all without the cache; otherwise those never read, those
// read longer than the revalidation interval ago, those to recheck (a
// child appeared, or they exec'd), and those the caller could not read
// before; and, unless partialOK, those read only in part.
func (r *Resolver) stale(procs []*procEntry, partialOK bool) []*procEntry {
	if !r.cache {
		return procs
	}
	now := r.now()
	var out []*procEntry
	for _, e := range procs {
		if e.listed.IsZero() || e.recheck || e.denied || (e.partial && !partialOK) || now.Sub(e.listed) >= r.ttl {
			out = append(out, e)
		}
	}
	return out
}

// unscanned returns the processes of procs not read in full in this poll.
func (r *Resolver) unscanned(procs []*procEntry) []*procEntry {
	var out []*procEntry
	for _, e := range procs {
		if e.scanGen != r.gen || e.partial {
			out = append(out, e)
		}
	}
	return out
}

// refresh updates the process list.
func (r *Resolver) refresh(netns uint64) error {
	fd, err := openDir(unix.AT_FDCWD, r.root)
	if err != nil {
		return &fs.PathError{Op: "list", Path: r.root, Err: err}
	}
	defer unix.Close(fd)
	err = r.dr.list(fd, func(name []byte, _ *byte) bool {
		if pid, ok := parsePID(name); ok {
			r.see(pid, netns)
		}
		return true
	}, nil)
	if err != nil {
		return &fs.PathError{Op: "list", Path: r.root, Err: err}
	}
	for pid, e := range r.procs {
		if e.gen != r.gen {
			r.forget(pid, e)
		}
	}
	r.recheckParents()
	return nil
}

// recheckParents marks the parents of the processes first seen in this
// poll to be read again in full: a child may hold a socket it inherited
// from its parent at fork, which the parent's cached list, read before
// the socket existed, does not show. A process whose parent exited in
// between (it then belongs to a reaper) leaves that parent unread until
// its list is revalidated.
func (r *Resolver) recheckParents() {
	for _, e := range r.born {
		if p := r.procs[e.ppid]; p != nil && p.start <= e.start {
			p.recheck = true
		}
	}
}

// see records that process pid exists in this poll.
func (r *Resolver) see(pid uint32, netns uint64) {
	dir := strconv.FormatUint(uint64(pid), 10)
	stat, err := readSmall(r.rootFD, dir+"/stat", r.statBuf)
	if err != nil {
		return // exited since the listing
	}
	st, err := parseStat(stat)
	if err != nil {
		return
	}
	e := r.procs[pid]
	if e != nil && e.start != st.start {
		r.forget(pid, e) // the PID was reused
		e = nil
	}
	switch {
	case e == nil:
		e = &procEntry{pid: pid, dir: dir, start: st.start, comm: string(st.comm), code: st.code, stack: st.stack}
		r.procs[pid] = e
		r.born = append(r.born, e)
	case string(st.comm) != e.comm || st.code != e.code || st.stack != e.stack:
		r.execed(e, &st)
	}
	e.ppid = st.ppid
	e.gen = r.gen
	e.gone = false
	e.netns = 0
	if n, err := unix.Readlinkat(r.rootFD, dir+"/ns/net", r.scanners[0].link[:]); err == nil {
		e.netns, _ = parseInodeLink(r.scanners[0].link[:n], "net:")
	}
	if netns == AllNetNS || e.netns == netns {
		r.inNS = append(r.inNS, e)
	} else {
		r.others = append(r.others, e)
	}
}

// execed notes that process e runs another program (or renamed itself):
// its module is read again, and its descriptor list in full.
func (r *Resolver) execed(e *procEntry, st *procStat) {
	e.comm, e.code, e.stack = string(st.comm), st.code, st.stack
	e.modStatus, e.mod = 0, tcptable.Module{}
	e.recheck = true
}

// forget drops an exited process, remembering the sockets it held.
func (r *Resolver) forget(pid uint32, e *procEntry) {
	r.noteGone(e)
	delete(r.procs, pid)
}

func (r *Resolver) noteGone(e *procEntry) {
	for _, f := range e.fds {
		if f.ino != 0 {
			r.goneInodes = append(r.goneInodes, f.ino)
		}
	}
}

// scanAll scans procs with all workers, reading at most limit descriptors
// of each (0: all).
func (r *Resolver) scanAll(ctx context.Context, procs []*procEntry, trust bool, limit int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, sc := range r.scanners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(procs) || ctx.Err() != nil {
					return
				}
				r.scan(procs[i], trust, sc, limit)
			}
		}()
	}
	wg.Wait()
	for _, e := range procs {
		if e.gone {
			r.noteGone(e)
			e.fds = e.fds[:0]
		}
	}
	return ctx.Err()
}

// scan lists a process's descriptors. With trust, a descriptor number seen
// by an earlier scan keeps the socket found then; only new numbers are
// read. Descriptor numbers come out of getdents in ascending order, so a
// scan limited to the first limit descriptors (0: no limit) reads the
// lowest numbers; its list is marked partial. An unlimited scan of a large
// process with nothing to trust probes the low numbers first (see probe)
// and lists only the rest.
func (r *Resolver) scan(e *procEntry, trust bool, sc *scanner, limit int) {
	dfd, err := openDir(r.rootFD, e.dir+"/fd")
	if err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			e.denied = true
		} else {
			e.gone = true
		}
		return
	}
	defer unix.Close(dfd)
	e.denied = false
	e.scanGen = r.gen
	e.listed = r.now()
	trust = trust && !e.recheck
	e.recheck = false
	old, next, j := e.fds, e.spare[:0], 0
	e.partial = false
	sc.denied = false
	if limit == 0 && (!trust || len(old) == 0) {
		if count, ok := openFDs(dfd); ok && count >= probeMin {
			// Probe the low numbers, then list the rest.
			probed, from := sc.probe(dfd, count, next)
			if _, err := unix.Seek(dfd, int64(from)+2, io.SeekStart); err == nil {
				next = probed
			}
		}
	}
	err = sc.dr.list(dfd, func(name []byte, cname *byte) bool {
		if limit > 0 && len(next) == limit {
			e.partial = true
			return false
		}
		v, ok := bytesconv.ParseUint(name, 10, math.MaxInt32)
		if !ok {
			return true
		}
		fd := int32(v)
		if trust {
			for j < len(old) && old[j].fd < fd {
				j++
			}
			if j < len(old) && old[j].fd == fd {
				next = append(next, old[j])
				return true
			}
		}
		next = append(next, fdSock{fd: fd})
		sc.lookup(dfd, cname, &next[len(next)-1])
		return true
	}, nil)
	next = compact(next)
	e.fds, e.spare = next, old[:0]
	e.denied = sc.denied // some descriptors were not inspectable: read again next time
	if err != nil {
		e.gone = true
	}
}

// Finish assigns owners to rows (all of which matched the query's
// non-owner conditions). With the descriptor iterator see finishKernel.
// From /proc, owners come first from the descriptor lists of the
// queried namespace's processes (cached or just read); if sockets remain
// without one and they are not ones that no walk could resolve last time,
// the namespace's cached lists are re-read, then other namespaces'
// processes are searched until every socket has an owner, and as a last
// resort every list is read again trusting nothing. Modules are loaded
// when wantModules.
func (r *Resolver) Finish(ctx context.Context, rows []tcptable.Connection, wantModules bool) error {
	if len(rows) > r.wantedSize { // made for the largest answer, then reused
		r.wantedSize = len(rows) + len(rows)/8
		r.wanted = make(map[uint32]int32, r.wantedSize)
	}
	clear(r.wanted)
	for i := range rows {
		if ino := rows[i].Socket; ino != 0 {
			r.wanted[uint32(ino)] = int32(i)
		}
	}
	if r.iter != nil {
		left, err := r.finishKernel(ctx, rows)
		if err != nil {
			return err
		}
		if r.iter != nil {
			return r.conclude(ctx, rows, left, wantModules)
		}
		// The iterator failed: go on from /proc.
	}
	if r.first {
		done, err := r.firstOwners(ctx, rows)
		if err != nil {
			return err
		}
		if done {
			return r.conclude(ctx, rows, 0, wantModules)
		}
		clearOwners(rows)
	}
	left := r.assign(rows, r.inNS, len(r.wanted))
	if left > 0 && r.cache && !r.knownUnresolvable(rows) {
		if err := r.scanAll(ctx, r.unscanned(r.inNS), true, 0); err != nil {
			return err
		}
		left = r.reassign(rows)
	}
	if left > 0 {
		var err error
		if left, err = r.searchOthers(ctx, rows, left, r.cache); err != nil {
			return err
		}
	}
	if left > 0 && r.cache && !r.knownUnresolvable(rows) {
		// Something new is unresolved: trust nothing and walk everything.
		if err := r.scanAll(ctx, r.inNS, false, 0); err != nil {
			return err
		}
		left = r.reassign(rows)
		if left > 0 {
			var err error
			if left, err = r.searchOthers(ctx, rows, left, false); err != nil {
				return err
			}
		}
	}
	return r.conclude(ctx, rows, left, wantModules)
}

// conclude records what stayed unresolved and fills the statuses and,
// when wantModules, the modules.
func (r *Resolver) conclude(ctx context.Context, rows []tcptable.Connection, left int, wantModules bool) error {
	r.dropTransient(rows)
	r.rememberUnresolved(rows, left)
	r.setStatuses(rows)
	if wantModules {
		r.setModules(rows)
	}
	return ctx.Err()
}

// firstRoundFDs is how many of its lowest descriptors the first round of
// a WithFirstOwnerOnly search reads in every process: listeners are
// usually opened before a server accepts, so they sit at low numbers.
const firstRoundFDs = 64

// firstOwners is the WithFirstOwnerOnly search: it reads the lowest
// firstRoundFDs descriptors of every process of the namespace whose list is
// not trusted (a list read in part within the revalidation interval is;
// breadth-first, so that a process with many established
// sockets does not delay the others), and reports done when every wanted
// socket then has an owner. Otherwise it completes the lists it cut short
// and the caller goes on with the exhaustive search.
func (r *Resolver) firstOwners(ctx context.Context, rows []tcptable.Connection) (done bool, err error) {
	if err := r.scanAll(ctx, r.stale(r.inNS, true), r.cache, firstRoundFDs); err != nil {
		return false, err
	}
	if r.reassign(rows) == 0 {
		return true, nil
	}
	var cut []*procEntry
	for _, e := range r.inNS {
		if e.partial {
			cut = append(cut, e)
		}
	}
	return false, r.scanAll(ctx, cut, true, 0)
}

// clearOwners forgets every row's owners.
func clearOwners(rows []tcptable.Connection) {
	for i := range rows {
		rows[i].PID, rows[i].OtherPIDs = 0, nil
	}
}

// reassign clears every owner and assigns them again from the namespace's
// processes and the other processes read in this poll.
func (r *Resolver) reassign(rows []tcptable.Connection) int {
	clearOwners(rows)
	left := r.assign(rows, r.inNS, len(r.wanted))
	for _, e := range r.others {
		if left == 0 {
			break
		}
		if e.scanGen == r.gen {
			left = r.assign(rows, []*procEntry{e}, left)
		}
	}
	return left
}

// assign records the owners found in procs and returns how many wanted
// sockets are still without one (left, before the call, is that count).
func (r *Resolver) assign(rows []tcptable.Connection, procs []*procEntry, left int) int {
	for _, e := range procs {
		for _, f := range e.fds {
			if f.ino == 0 {
				continue
			}
			i, ok := r.wanted[f.ino]
			if !ok {
				continue
			}
			c := &rows[i]
			if c.PID == 0 {
				left--
			}
			addOwner(c, e.pid)
		}
	}
	return left
}

// addOwner adds pid to c's owners, keeping PID the lowest and OtherPIDs
// sorted and free of duplicates.
func addOwner(c *tcptable.Connection, pid uint32) {
	switch {
	case c.PID == 0:
		c.PID = pid
	case pid == c.PID:
	case pid < c.PID:
		c.OtherPIDs = insertSorted(c.OtherPIDs, c.PID)
		c.PID = pid
	default:
		c.OtherPIDs = insertSorted(c.OtherPIDs, pid)
	}
}

func insertSorted(s []uint32, v uint32) []uint32 {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

// searchOthers reads processes outside the queried namespace, as many at
// a time as there are workers, until no wanted socket is left without an
// owner.
func (r *Resolver) searchOthers(ctx context.Context, rows []tcptable.Connection, left int, trust bool) (int, error) {
	for batch := r.others; len(batch) > 0 && left > 0; {
		n := min(len(batch), len(r.scanners))
		if err := r.scanAll(ctx, batch[:n], trust, 0); err != nil {
			return left, err
		}
		left = r.assign(rows, batch[:n], left)
		batch = batch[n:]
	}
	return left, nil
}

// knownUnresolvable reports whether every socket still without an owner
// was also unresolved after the last full walk (a kernel socket, one held
// in another PID namespace or by a process the caller may not inspect):
// walking everything again would find nothing new.
func (r *Resolver) knownUnresolvable(rows []tcptable.Connection) bool {
	for i := range rows {
		c := &rows[i]
		if c.Socket == 0 || c.PID != 0 {
			continue
		}
		if _, ok := r.unresolvable[uint32(c.Socket)]; !ok {
			return false
		}
	}
	return true
}

// rememberUnresolved keeps the inodes no walk could resolve.
func (r *Resolver) rememberUnresolved(rows []tcptable.Connection, left int) {
	clear(r.unresolvable)
	if left == 0 {
		return
	}
	for i := range rows {
		if c := &rows[i]; c.Socket != 0 && c.PID == 0 {
			r.unresolvable[uint32(c.Socket)] = struct{}{}
		}
	}
}

// setStatuses fills OwnerStatus from what the walk found.
func (r *Resolver) setStatuses(rows []tcptable.Connection) {
	exited := map[uint32]bool{}
	for _, ino := range r.goneInodes {
		if _, ok := r.wanted[ino]; ok {
			exited[ino] = true
		}
	}
	denied := false
	for _, e := range r.procs {
		if e.denied {
			denied = true
			break
		}
	}
	for i := range rows {
		c := &rows[i]
		switch {
		case c.PID != 0:
			c.OwnerStatus = tcptable.OwnerOK
		case c.Socket == 0:
			c.OwnerStatus = tcptable.OwnerKernel
		case exited[uint32(c.Socket)]:
			c.OwnerStatus = tcptable.OwnerExited
		case denied:
			c.OwnerStatus = tcptable.OwnerPermissionDenied
		case len(r.inNS) == 0:
			c.OwnerStatus = tcptable.OwnerOtherNamespace
		default:
			c.OwnerStatus = tcptable.OwnerNotFound
		}
	}
}

// setModules fills Module from /proc/PID/comm and /proc/PID/exe, and
// Container from /proc/PID/cgroup, read once per process lifetime.
func (r *Resolver) setModules(rows []tcptable.Connection) {
	for i := range rows {
		c := &rows[i]
		if c.PID == 0 {
			c.ModuleStatus = c.OwnerStatus
			continue
		}
		e := r.procs[c.PID]
		if e == nil {
			c.ModuleStatus = tcptable.OwnerExited
			continue
		}
		if e.modStatus == 0 {
			r.loadModule(e)
		}
		c.Module, c.ModuleStatus = e.mod, e.modStatus
		if !e.cgLoaded {
			r.loadContainer(e)
		}
		c.Container = e.container
		if e.modStatus == tcptable.OwnerOK {
			c.ModuleSource = tcptable.SourceProcfs
		}
	}
}

// loadModule reads a process's name and executable path. The kernel
// keeps at most commMax bytes of a name (comm); a name of that length may
// have been cut, and is then replaced by the untruncated base name of the
// executable or, failing that, of argv[0] (see fullName).
func (r *Resolver) loadModule(e *procEntry) {
	comm, err := readSmall(r.rootFD, e.dir+"/comm", r.statBuf)
	switch {
	case err == nil:
		e.mod.Name = parseComm(comm)
		e.modStatus = tcptable.OwnerOK
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		e.modStatus = tcptable.OwnerPermissionDenied
		return
	default:
		e.modStatus = tcptable.OwnerExited
		return
	}
	buf := make([]byte, unix.PathMax)
	if n, err := unix.Readlinkat(r.rootFD, e.dir+"/exe", buf); err == nil {
		e.mod.Path = string(buf[:n])
	}
	if len(e.mod.Name) != commMax {
		return
	}
	if name, ok := fullName(e.mod.Name, e.mod.Path, nil); ok {
		e.mod.Name = name
		return
	}
	// argv[0] is read only when the executable does not give the name (a
	// program started through a symbolic link, say): reading a process's
	// memory waits for its address-space lock.
	if cmdline, err := readSmall(r.rootFD, e.dir+"/cmdline", buf); err == nil {
		e.mod.Name, _ = fullName(e.mod.Name, "", cmdline)
	}
}
