package fusetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// ErrUnavailable is wrapped by Mount's error when this host cannot mount a
// FUSE file system (not root, no /dev/fuse).
var ErrUnavailable = errors.New("fusetest: FUSE unavailable")

// FS is a mounted file system served by this process.
type FS struct {
	// Dir is the mount point; Dir/FileName is its one file.
	Dir    string
	dev    int // /dev/fuse
	frozen atomic.Bool
	done   chan struct{}
	once   sync.Once
}

// Mount mounts a new file system on dir (an empty directory) and serves
// it until Freeze or Abort.
func Mount(dir string) (*FS, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: mounting needs root", ErrUnavailable)
	}
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: open /dev/fuse: %w", ErrUnavailable, err)
	}
	opts := "fd=" + strconv.Itoa(fd) + ",rootmode=40000,user_id=0,group_id=0,allow_other"
	if err := unix.Mount("tcptable-fusetest", dir, "fuse.tcptable-fusetest", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: mount fuse on %s: %w", ErrUnavailable, dir, err)
	}
	fs := &FS{Dir: dir, dev: fd, done: make(chan struct{})}
	go fs.serve()
	return fs, nil
}

// Path is the file system's one file.
func (fs *FS) Path() string { return filepath.Join(fs.Dir, FileName) }

// serve answers requests until frozen; then it reads them and never
// answers, so that every caller waits.
func (fs *FS) serve() {
	defer close(fs.done)
	buf := make([]byte, 1<<17)
	for {
		n, err := unix.Read(fs.dev, buf)
		if err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOENT) { // ENOENT: an interrupted request
				continue
			}
			return // closed, or the connection was aborted (ENODEV)
		}
		if fs.frozen.Load() {
			continue
		}
		req, err := parseRequest(buf[:n])
		if err != nil {
			continue
		}
		if out := answer(req); out != nil {
			_, _ = unix.Write(fs.dev, out)
		}
	}
}

// Freeze makes the server stop answering: from now on a system call that
// needs it (a stat of its file, say) waits until Abort.
func (fs *FS) Freeze() { fs.frozen.Store(true) }

// Abort ends the connection (every waiting call fails, with ECONNABORTED) and
// unmounts the file system. It is idempotent.
func (fs *FS) Abort() error {
	var err error
	fs.once.Do(func() {
		// A forced unmount aborts the connection (fuse_umount_begin),
		// which also ends the server's read.
		if e := unix.Unmount(fs.Dir, unix.MNT_FORCE|unix.MNT_DETACH); e != nil {
			err = fmt.Errorf("fusetest: unmount %s: %w", fs.Dir, e)
		}
		<-fs.done
		err = errors.Join(err, unix.Close(fs.dev))
	})
	return err
}
