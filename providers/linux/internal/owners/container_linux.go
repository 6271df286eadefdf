package owners

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/providers/linux/internal/cgroup"
)

// maxCgroupFile caps how much of /proc/PID/cgroup is read: a line per
// hierarchy, a dozen on a cgroup v1 host, each a path of a few hundred
// bytes at most.
const maxCgroupFile = 64 << 10

// loadContainer reads the container a process runs in from
// /proc/PID/cgroup (world-readable), once per process: see package cgroup
// for what is recognised. A process whose file cannot be read (it exited)
// gets none.
func (r *Resolver) loadContainer(e *procEntry) {
	e.cgLoaded = true
	b, err := r.readAll(e.dir + "/cgroup")
	if err != nil {
		return
	}
	e.container = cgroup.Parse(b).ID()
}

// readAll reads a /proc file of at most maxCgroupFile bytes into the
// resolver's reused buffer; a longer one is cut there. It opens the file
// non-blocking, as readSmall does, so that a FIFO in its place (under
// WithProcRoot) cannot block the scan.
func (r *Resolver) readAll(name string) ([]byte, error) {
	fd, err := unix.Openat(r.rootFD, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if r.fileBuf == nil {
		r.fileBuf = make([]byte, 4096)
	}
	n := 0
	for {
		if n == len(r.fileBuf) {
			if n >= maxCgroupFile {
				break
			}
			r.fileBuf = append(r.fileBuf, make([]byte, n)...) // double it
		}
		m, err := unix.Read(fd, r.fileBuf[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return r.fileBuf[:n], nil
}
