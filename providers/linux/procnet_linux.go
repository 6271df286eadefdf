package linux

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
)

// readProcNet reads /proc/net/tcp and /proc/net/tcp6 of the queried
// namespace: under the /proc root for the caller's own namespace, or
// /proc/thread-self/net from a thread inside the WithNetNS namespace.
func (p *Provider) readProcNet(ctx context.Context, q tcptable.Query, add func(*diagRow)) error {
	if p.nsFD < 0 {
		return readProcNetDir(ctx, filepath.Join(p.cfg.procRoot, "net"), q, add)
	}
	return inNetNS(p.nsFD, func() error { return readProcNetDir(ctx, "/proc/thread-self/net", q, add) })
}

// readProcNetDir reads the files tcp and tcp6 (those of the families q can
// match) in dir.
func readProcNetDir(ctx context.Context, dir string, q tcptable.Query, add func(*diagRow)) error {
	for _, fam := range families(q) {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := "tcp"
		if fam == afInet6 {
			name = "tcp6"
		}
		if err := readProcNetFile(filepath.Join(dir, name), fam, add); err != nil {
			return err
		}
	}
	return nil
}

// readProcNetFile parses one file. A missing tcp6 (IPv6 disabled) is an
// empty table.
func readProcNetFile(path string, fam uint8, add func(*diagRow)) error {
	f, err := openRegular(path)
	if err != nil {
		if fam == afInet6 && os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer f.Close()
	if err := parseProcNet(f, fam, add); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// openRegular opens a file of the procfs root for reading, and fails with
// an error wrapping tcptable.ErrInvalid if it is not a regular file: under
// WithProcRoot a FIFO (or a device) in its place would otherwise block the
// open or the read forever. The open itself does not wait (O_NONBLOCK,
// which changes nothing for a regular file).
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w: a %v, not a regular file", path, tcptable.ErrInvalid, st.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
