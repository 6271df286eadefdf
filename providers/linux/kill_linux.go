package linux

import (
	"context"
	"errors"
	"fmt"

	"github.com/tcptable/tcptable"
)

var _ tcptable.Killer = (*Provider)(nil)

// Kill ends the connection, or closes the listener, that c names, with
// netlink SOCK_DESTROY in the provider's network namespace, and verifies
// that the kernel no longer has the socket. The holder's next read or
// write fails with ECONNABORTED; the peer of a connection gets a reset. A
// TIME-WAIT row is removed from the table (no process holds it and no
// packet is sent).
//
// c is found by its Key: an address four-tuple (the socket inode must
// match too where both are known) or, for a listener, its local address
// and inode, among the members of an SO_REUSEPORT group. Rows of the table
// from this provider name their socket exactly; a hand-written row without
// Socket names any listener at its address. The error wraps
// tcptable.ErrNotFound when there is no such socket (nothing is ended),
// tcptable.ErrPermission without CAP_NET_ADMIN, tcptable.ErrNotSupported
// where the kernel cannot destroy it (built without
// CONFIG_INET_DIAG_DESTROY, an MPTCP listener, a bound socket that neither
// listens nor is connected), tcptable.ErrInvalid for a row without a
// local address, tcptable.ErrClosed once Close is called, and ctx.Err()
// when ctx ends first. docs/linux.md says more.
//
// c.NetNS, when not 0, names the namespace the socket is in. A
// WithAllNetNS provider ends rows of every namespace, from a sock_diag
// socket opened inside the row's (entering it needs CAP_SYS_ADMIN, as
// reading it does); any other provider reads one namespace, and a row of
// another is an error wrapping tcptable.ErrNotFound that says so.
func (p *Provider) Kill(ctx context.Context, c tcptable.Connection) error {
	if err := p.whileOpen(ctx, func(ctx context.Context) error { return p.kill(ctx, &c) }); err != nil {
		return fmt.Errorf("tcptable/linux: Kill %v %v -> %v: %w", c.State, c.Local, c.Remote, err)
	}
	return nil
}

// kill is Kill with p.mu held.
func (p *Provider) kill(ctx context.Context, c *tcptable.Connection) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.NetNS != 0 && c.NetNS != p.netns {
		return p.killForeign(ctx, c)
	}
	if p.killConn == nil {
		d, err := p.newDiagConn() // a socket of its own, inside the namespace, as the dump's are
		if err != nil {
			if diagUnavailable(err) {
				return fmt.Errorf("%w: %w", tcptable.ErrNotSupported, err)
			}
			return err
		}
		p.killConn = d
	}
	err := killSocket(ctx, p.killConn.exact, c)
	if errors.Is(err, errExchangeAborted) {
		p.killConn.close() // an answer may still be queued: start afresh
		p.killConn = nil
	}
	return err
}
