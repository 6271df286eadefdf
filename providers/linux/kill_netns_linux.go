package linux

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
)

// killForeign is Kill of a row whose NetNS is not the provider's own
// namespace. A WithAllNetNS provider ends it in its namespace
// (killInNetNS); any other provider reads one namespace, so the row names
// no socket of it: an error wrapping tcptable.ErrNotFound that says so.
func (p *Provider) killForeign(ctx context.Context, c *tcptable.Connection) error {
	if p.all == nil {
		return fmt.Errorf("%w: the row belongs to another network namespace (%d) than this provider's (%d): "+
			"use a provider WithNetNS of that namespace, or WithAllNetNS", tcptable.ErrNotFound, c.NetNS, p.netns)
	}
	return p.killInNetNS(ctx, c)
}

// killInNetNS ends, for a WithAllNetNS provider, a row of another
// namespace than the caller's: it opens a sock_diag socket inside that
// namespace (from a thread that enters it, as the namespace's dumps do) and
// finds, destroys and verifies the socket there exactly as in the caller's
// own (killSocket); the socket is closed again, as kills are rare. A
// namespace that no longer exists is an error wrapping
// tcptable.ErrNotFound, and a caller that may not enter it (setns needs
// CAP_SYS_ADMIN) one wrapping tcptable.ErrPermission.
func (p *Provider) killInNetNS(ctx context.Context, c *tcptable.Connection) error {
	fd, s, err := p.openKnownNetNS(c.NetNS)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	d, err := openDiagIn(fd, nil)
	if err != nil {
		if errors.Is(err, unix.EPERM) { // as fs.ErrPermission, tcptable.ErrPermission
			return s.wrap(fmt.Errorf("%w (entering another network namespace needs CAP_SYS_ADMIN)", err))
		}
		return s.wrap(err)
	}
	defer d.close()
	if err := killSocket(ctx, d.exact, c); err != nil {
		return s.wrap(err)
	}
	return nil
}

// openKnownNetNS opens namespace ino: by the file the last Table call
// found it by, or else (not found then, or that process has exited) by
// one found now, without changing what NetNamespaces reports. A namespace
// that no longer exists is an error wrapping tcptable.ErrNotFound.
func (p *Provider) openKnownNetNS(ino uint64) (int, *nsSpace, error) {
	if s := p.all.spaces[ino]; s != nil {
		fd, err := openNetNSAt(s.path, s.ino)
		if !errors.Is(err, fs.ErrNotExist) {
			if err != nil {
				return -1, nil, s.wrap(err)
			}
			return fd, s, nil
		}
	}
	found, err := discoverNetNS(p.cfg.procRoot, &p.namer, p.netns)
	if err != nil {
		return -1, nil, fmt.Errorf("find network namespaces: %w", err)
	}
	i := slices.IndexFunc(found, func(f nsFound) bool { return f.ino == ino })
	if i < 0 {
		return -1, nil, fmt.Errorf("%w: no network namespace %d on this host (any more)", tcptable.ErrNotFound, ino)
	}
	s := &nsSpace{nsFound: found[i]}
	fd, err := openNetNSAt(s.path, s.ino)
	if errors.Is(err, fs.ErrNotExist) {
		return -1, nil, s.wrap(fmt.Errorf("%w: the namespace is gone: %w", tcptable.ErrNotFound, err))
	}
	if err != nil {
		return -1, nil, s.wrap(err)
	}
	return fd, s, nil
}
