package linux

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// netnsRunDir is where `ip netns add` bind-mounts the namespaces it names
// (iproute2's NETNS_RUN_DIR; /var/run/netns is a link to it).
const netnsRunDir = "/run/netns"

// nsFound is a network namespace discovery found.
type nsFound struct {
	ino  uint64
	name string // under /run/netns, "" if none
	path string // a file to open it by: /run/netns/NAME or PROC/PID/ns/net
}

// netnsNamer names namespaces after their bind mounts under a directory,
// re-reading it only when its modification or change time moves (adding
// or removing a name does; ip netns creates and removes the mount point).
type netnsNamer struct {
	dir          string
	dev          uint64 // nsfs's device: an entry on another is no namespace
	mtime, ctime unix.Timespec
	read         bool
	names        map[uint64]string // inode -> the first name in order
}

// lookup returns the names by inode, re-reading the directory if it
// changed. A missing directory names nothing.
func (n *netnsNamer) lookup() map[uint64]string {
	var st unix.Stat_t
	if err := unix.Stat(n.dir, &st); err != nil {
		n.read, n.names = false, nil
		return nil
	}
	if n.read && st.Mtim == n.mtime && st.Ctim == n.ctime {
		return n.names
	}
	n.read, n.mtime, n.ctime = true, st.Mtim, st.Ctim
	n.names = map[uint64]string{}
	entries, err := os.ReadDir(n.dir) // sorted by name
	if err != nil {
		return n.names
	}
	for _, e := range entries {
		var ns unix.Stat_t
		if unix.Stat(filepath.Join(n.dir, e.Name()), &ns) != nil || ns.Dev != n.dev {
			continue // a stale mount point, or anything but a namespace
		}
		if _, ok := n.names[ns.Ino]; !ok {
			n.names[ns.Ino] = e.Name()
		}
	}
	return n.names
}

// nsfsOf stats the namespace file path and returns its inode and device.
func nsfsOf(path string) (ino, dev uint64, err error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, fmt.Errorf("stat network namespace %s: %w", path, err)
	}
	return st.Ino, st.Dev, nil
}

// discoverNetNS lists the network namespaces of the host, ordered by
// inode: those of the processes under procRoot (PID/ns/net, one per
// inode) and those named under the namer's directory, plus own (the
// caller's). A process whose namespace the caller may not see (another
// user's, for an unprivileged caller) or that exits meanwhile is passed
// over; only a procRoot that cannot be listed is an error.
func discoverNetNS(procRoot string, namer *netnsNamer, own uint64) ([]nsFound, error) {
	f, err := os.Open(procRoot)
	if err != nil {
		return nil, err
	}
	pids, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", procRoot, err)
	}
	found := map[uint64]*nsFound{own: {ino: own}}
	names := namer.lookup()
	for ino, name := range names {
		found[ino] = &nsFound{ino: ino, name: name, path: filepath.Join(namer.dir, name)}
	}
	var st unix.Stat_t
	for _, pid := range pids {
		if pid == "" || pid[0] < '1' || pid[0] > '9' {
			continue
		}
		path := procRoot + "/" + pid + "/ns/net"
		if unix.Stat(path, &st) != nil || st.Dev != namer.dev {
			continue
		}
		if ns := found[st.Ino]; ns == nil {
			found[st.Ino] = &nsFound{ino: st.Ino, path: path}
		} else if ns.path == "" {
			ns.path = path
		}
	}
	out := make([]nsFound, 0, len(found))
	for _, ns := range found {
		out = append(out, *ns)
	}
	slices.SortFunc(out, func(a, b nsFound) int { return cmp.Compare(a.ino, b.ino) })
	return out, nil
}

// openNetNSAt opens the namespace file path and checks that it still is
// namespace ino (a PID may have been reused). A namespace that is gone is
// an error wrapping fs.ErrNotExist.
func openNetNSAt(path string, ino uint64) (int, error) {
	fd, got, err := openNetNS(path)
	switch {
	case errors.Is(err, unix.ESRCH):
		return -1, fmt.Errorf("%w: %w", err, fs.ErrNotExist)
	case err != nil:
		return -1, err
	case got != ino:
		unix.Close(fd)
		return -1, fmt.Errorf("network namespace %d: %s is now namespace %d: %w", ino, path, got, fs.ErrNotExist)
	}
	return fd, nil
}
