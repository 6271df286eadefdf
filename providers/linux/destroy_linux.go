package linux

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
)

// The sock_diag multicast groups of destroyed TCP sockets
// (linux/sock_diag.h: SKNLGRP_INET_TCP_DESTROY, SKNLGRP_INET6_TCP_DESTROY).
const (
	groupTCPDestroy  = 1
	groupTCP6Destroy = 3
)

// destroyConn is a sock_diag socket that receives the destroy groups.
type destroyConn struct {
	fd  int
	buf []byte
}

// openDestroy joins the destroy groups of the families Table reads to
// answer q (diagFamilies: an IPv4 query reads AF_INET6 too, for its
// dual-stack listeners), in the provider's namespace.
func (p *Provider) openDestroy(q tcptable.Query) (*destroyConn, error) {
	d, err := p.newDiagConn()
	if err != nil {
		return nil, err
	}
	dc := &destroyConn{fd: d.fd, buf: d.buf}
	for _, fam := range diagFamilies(q) {
		g := groupTCPDestroy
		if fam == afInet6 {
			g = groupTCP6Destroy
		}
		if err := unix.SetsockoptInt(dc.fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, g); err != nil {
			unix.Close(dc.fd)
			return nil, fmt.Errorf("join the sock_diag destroy group %d: %w", g, err)
		}
	}
	// Reads wake up now and then to see whether the trace ended.
	tv := unix.Timeval{Usec: 200_000}
	_ = unix.SetsockoptTimeval(dc.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	// A large buffer: a burst of closes must not overflow it.
	_ = unix.SetsockoptInt(dc.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	return dc, nil
}

// destroyAllowed reports why the destroy groups cannot be joined here
// (the kernel asks for CAP_NET_ADMIN), or nil.
func destroyAllowed() error {
	d, err := openDiag()
	if err != nil {
		return err
	}
	defer d.close()
	if err := unix.SetsockoptInt(d.fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, groupTCPDestroy); err != nil {
		return fmt.Errorf("join the destroy group (needs CAP_NET_ADMIN): %w", err)
	}
	return nil
}

// traceDestroy is Trace from the destroy groups: every socket's end as
// the kernel destroys it, and a poll of the table (WithTracePoll) for
// the rest, diffed as tcptable.Diff does.
func (p *Provider) traceDestroy(ctx context.Context, q tcptable.Query, ready func(), fn func(tcptable.Event) error) error {
	dc, err := p.openDestroy(q)
	if err != nil {
		return fmt.Errorf("tcptable/linux: Trace: %w: %w", tcptable.ErrNotSupported, err)
	}
	closed := make(chan struct{})
	defer func() { unix.Close(dc.fd); <-closed }()
	ends := make(chan destroyed, 1024)
	go func() {
		defer close(closed)
		dc.read(ctx, ends)
	}()
	prev, err := p.Table(ctx, q)
	if err != nil {
		return fmt.Errorf("tcptable/linux: Trace: %w", err)
	}
	ready() // the groups are joined and the first snapshot taken
	tick := time.NewTicker(p.cfg.trace.diagPoll)
	defer tick.Stop()
	cv := p.traceConverter()
	var look *diagConn // for TIME-WAIT lookups
	// The rows the last poll reported closed. The kernel sends a destroy
	// message from a work queue, so a poll can find the socket gone before
	// its message arrives; that end is already reported.
	var gone []tcptable.Connection
	defer func() {
		if look != nil {
			look.close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("tcptable/linux: Trace: %w", ctx.Err())
		case d := <-ends:
			if d.err != nil {
				if err := fn(tcptable.Event{Kind: tcptable.EventLost, Time: d.at}); err != nil {
					return err
				}
				continue
			}
			var err error
			if prev, err = p.destroyedRow(q, prev, gone, &d, &cv, &look, fn); err != nil {
				return err
			}
		case now := <-tick.C:
			next, err := p.Table(ctx, q)
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("tcptable/linux: Trace: %w", ctx.Err())
				}
				continue // the next poll diffs against the last good one
			}
			gone = gone[:0]
			for _, e := range tcptable.Diff(prev, next) {
				e.Time = now.UTC()
				if e.Kind == tcptable.EventClosed {
					gone = append(gone, e.Before)
				}
				if err := fn(e); err != nil {
					return err
				}
			}
			prev = next
		}
	}
}

// destroyed is one message of the destroy groups, or a receive error
// (events were lost).
type destroyed struct {
	row diagRow
	at  time.Time
	err error
}

// read forwards the destroy messages until ctx ends or the socket is
// closed.
func (dc *destroyConn) read(ctx context.Context, out chan<- destroyed) {
	for ctx.Err() == nil {
		n, _, err := unix.Recvfrom(dc.fd, dc.buf, 0)
		at := time.Now().UTC()
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			// The socket's buffer overflowed: messages were dropped.
			out <- destroyed{at: at, err: err}
			continue
		case err != nil:
			return // closed
		}
		_, perr := parseDiag(dc.buf[:n], 0, func(r *diagRow) {
			out <- destroyed{row: *r, at: at}
		})
		if perr != nil {
			out <- destroyed{at: at, err: perr}
		}
	}
}

// destroyedRow reports the end of the socket d describes and returns the
// snapshot without it; nothing when the last poll reported it closed
// (it is in gone). A connection whose full socket a TIME-WAIT
// minisocket replaced lives on: that is a state change (found with a
// lookup of its address pair), not an end. A connection no poll saw (it
// opened and ended between two) is reported opened at its end, without
// an owner: closed at once in the state the kernel reports at its
// destruction (CLOSE), or in TIME-WAIT, where the snapshot keeps it.
func (p *Provider) destroyedRow(q tcptable.Query, prev, gone []tcptable.Connection, d *destroyed,
	cv *converter, look **diagConn, fn func(tcptable.Event) error) ([]tcptable.Connection, error) {
	c, ok := cv.plain(&d.row)
	if !ok || !q.MatchFamily(c.Family()) && !c.Local.Addr().IsUnspecified() {
		// (An IPv4 query joins the AF_INET6 group for the dual-stack
		// sockets on :: alone.)
		return prev, nil
	}
	c.OwnerStatus, c.ModuleStatus = tcptable.OwnerUnknown, tcptable.OwnerUnknown
	i, ambiguous := findDestroyed(prev, &c)
	if ambiguous {
		return prev, nil // one of several listeners on the address: the poll tells which
	}
	if i < 0 {
		if j, amb := findDestroyed(gone, &c); j >= 0 || amb {
			return prev, nil // a poll saw it gone first and reported its end
		}
	}
	var evs []tcptable.Event
	if tw, ok := p.lookupTimeWait(look, &d.row, cv); ok {
		if i < 0 {
			evs = viewEvents(evs, q, changeOpened, tcptable.Connection{}, tw, d.at)
			r := [1]tcptable.Connection{tw}
			reduce(r[:], q.Detail(), q.Stats)
			if q.Match(r[0]) {
				prev = append(prev, r[0]) // the poll must not report it again
			}
		} else {
			evs = viewEvents(evs, q, changeUpdated, prev[i], tw, d.at)
			prev[i] = tw
		}
	} else if i >= 0 {
		evs = viewEvents(evs, q, changeClosed, prev[i], tcptable.Connection{}, d.at)
		prev = append(prev[:i], prev[i+1:]...)
	} else if c.Local.Port() != 0 {
		// (A socket never bound has nothing to report.)
		evs = viewEvents(evs, q, changeOpened, tcptable.Connection{}, c, d.at)
		evs = viewEvents(evs, q, changeClosed, c, tcptable.Connection{}, d.at)
	}
	for _, e := range evs {
		if err := fn(e); err != nil {
			return prev, err
		}
	}
	return prev, nil
}

// findDestroyed returns the index in prev of the destroyed socket c, or
// -1. A connection is found by its Key; a listener is destroyed after its
// last descriptor closed, without the inode its Key holds, so it is found
// by its address, when only one listener has it (ambiguous otherwise).
func findDestroyed(prev []tcptable.Connection, c *tcptable.Connection) (i int, ambiguous bool) {
	byAddr := c.Remote.Port() == 0 && c.Socket == 0
	k := c.Key()
	i = -1
	for j := range prev {
		r := &prev[j]
		switch {
		case !byAddr:
			if r.Key() == k {
				return j, false
			}
		case r.Remote.Port() == 0 && r.Local == c.Local && r.NetNS == c.NetNS:
			if i >= 0 {
				return -1, true
			}
			i = j
		}
	}
	return i, false
}

// lookupTimeWait returns the TIME-WAIT (or FIN-WAIT-2) minisocket with
// r's address pair, if one exists.
func (p *Provider) lookupTimeWait(look **diagConn, r *diagRow, cv *converter) (tcptable.Connection, bool) {
	if r.DPort == 0 {
		return tcptable.Connection{}, false
	}
	if *look == nil {
		var err error
		if *look, err = p.newDiagConn(); err != nil {
			return tcptable.Connection{}, false
		}
	}
	id := r.id()
	a, err := (*look).exact(context.Background(), sockDiagByFamily, &id, 0)
	if err != nil && !errors.Is(err, errnoENOENT) {
		(*look).close()
		*look = nil
	}
	// A lookup finds a socket in any state: a full socket (with an inode),
	// such as the listener on the local port, is not the minisocket.
	if err != nil || !a.Found || a.Row.Inode != 0 {
		return tcptable.Connection{}, false
	}
	c, ok := cv.plain(&a.Row)
	c.OwnerStatus, c.ModuleStatus = tcptable.OwnerKernel, tcptable.OwnerKernel
	return c, ok
}
