package linux

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tcptable/tcptable"
)

// readProcNet reads /proc/net/tcp and /proc/net/tcp6 of the queried
// namespace: under the /proc root for the caller's own namespace, or
// /proc/thread-self/net from a thread inside the WithNetNS namespace.
func (p *Provider) readProcNet(ctx context.Context, q tcptable.Query, add func(*diagRow)) error {
	read := func(dir string) error {
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
	if p.nsFD < 0 {
		return read(filepath.Join(p.cfg.procRoot, "net"))
	}
	return inNetNS(p.nsFD, func() error { return read("/proc/thread-self/net") })
}

// readProcNetFile parses one file. A missing tcp6 (IPv6 disabled) is an
// empty table.
func readProcNetFile(path string, fam uint8, add func(*diagRow)) error {
	f, err := os.Open(path)
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
