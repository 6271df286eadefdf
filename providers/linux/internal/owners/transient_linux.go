package owners

import (
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
)

// transientTicks is how young, in clock ticks (USER_HZ, 100 a second on
// every architecture Go supports), a process must be for its hold on a
// close-on-exec descriptor inherited from its parent to count as transient
// (see dropTransient): a second, hundreds of times the few hundred
// microseconds from fork to exec.
const transientTicks = 100

// bootTicks returns the clock ticks since boot, the unit and clock
// (CLOCK_BOOTTIME) of /proc/PID/stat's start time.
func bootTicks() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return uint64(ts.Nano()) / 1e7
}

// dropTransient removes from the owners of each shared socket the
// processes that hold it only between a fork and an exec: a holder whose
// parent holds the socket too, that started less than transientTicks ago,
// and whose every descriptor of the socket is close-on-exec. Such a child
// (a server running a helper program, a shell running a command) drops the
// socket when it execs, microseconds later; reporting it would make a
// watch of a busy server see its listener's owners change on every other
// poll. A child that keeps the socket for longer (a pre-forked worker
// that never execs) is reported once it is a second old; one that
// inherited a descriptor without close-on-exec keeps it across exec and
// is reported at once. It reads /proc/PID/fdinfo of the candidates only,
// which are rare.
func (r *Resolver) dropTransient(rows []tcptable.Connection) {
	now := r.ticks()
	for i := range rows {
		c := &rows[i]
		if len(c.OtherPIDs) == 0 || c.Socket == 0 {
			continue
		}
		owners := c.Owners()
		kept := owners[:0:0]
		for _, pid := range owners {
			if !r.transient(pid, owners, uint32(c.Socket), now) {
				kept = append(kept, pid)
			}
		}
		if len(kept) == len(owners) || len(kept) == 0 {
			continue
		}
		c.PID, c.OtherPIDs = kept[0], nil
		if len(kept) > 1 {
			c.OtherPIDs = kept[1:]
		}
	}
}

// transient reports whether process pid holds socket ino only as a child
// between fork and exec of another of its owners (see dropTransient).
func (r *Resolver) transient(pid uint32, owners []uint32, ino uint32, now uint64) bool {
	e := r.procs[pid]
	if e == nil || e.ppid == 0 || !slices.Contains(owners, e.ppid) || now < e.start || now-e.start >= transientTicks {
		return false
	}
	parent := r.procs[e.ppid]
	held := false
	for _, f := range e.fds {
		if f.ino != ino {
			continue
		}
		held = true
		switch cloexec, ok := r.closeOnExec(e, f.fd, ino); {
		case !ok:
			// Closed since, or the process exec'd or exited: no hold.
		case cloexec:
		case parent != nil && r.inheritedCloseOnExec(parent, f.fd, ino) && r.closing(e, f.fd, ino):
			// Exec clears a process's close-on-exec marks before it
			// closes those descriptors one by one: a descriptor the
			// parent holds close-on-exec under the same number, in a
			// process caught there, is one being closed.
		default:
			return false // kept across exec: a real holder
		}
	}
	return held
}

// closing reports whether descriptor fd of process e, socket ino without
// its close-on-exec mark, is being closed by an exec: e is in the middle
// of one (it has its new address space but no program loaded in it yet:
// stat's startcode is 0, where a process the caller may not inspect shows
// 1), or it has finished one and the descriptor is gone since.
func (r *Resolver) closing(e *procEntry, fd int32, ino uint32) bool {
	if b, err := readSmall(r.rootFD, e.dir+"/stat", r.statBuf); err == nil {
		if st, err := parseStat(b); err == nil && st.start == e.start && st.code == 0 {
			return true
		}
	}
	_, ok := r.closeOnExec(e, fd, ino)
	return !ok
}

// inheritedCloseOnExec reports whether parent holds socket ino as
// descriptor fd, close-on-exec.
func (r *Resolver) inheritedCloseOnExec(parent *procEntry, fd int32, ino uint32) bool {
	if !slices.Contains(parent.fds, fdSock{fd: fd, ino: ino}) {
		return false
	}
	cloexec, ok := r.closeOnExec(parent, fd, ino)
	return ok && cloexec
}

// closeOnExec reads whether descriptor fd of process e is close-on-exec;
// ok is false if the descriptor is no longer socket ino (or gone).
func (r *Resolver) closeOnExec(e *procEntry, fd int32, ino uint32) (cloexec, ok bool) {
	b, err := readSmall(r.rootFD, e.dir+"/fdinfo/"+strconv.Itoa(int(fd)), r.statBuf)
	if err != nil {
		return false, false
	}
	fi, err := parseFDInfo(b)
	if err != nil || (fi.hasIno && fi.ino != uint64(ino)) {
		return false, false
	}
	return fi.flags&unix.O_CLOEXEC != 0, true
}
