package mock

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
)

// Provider simulates the conformance suite's endpoints, and its pairs move
// bytes.
var (
	_ conformance.SharingEnv   = (*Provider)(nil)
	_ conformance.DualStackEnv = (*Provider)(nil)
	_ conformance.TransferPair = (*pair)(nil)
)

// ownRowLocked returns a row owned by the calling process, the way a real
// provider reports one: PID, module (this executable), statuses OK, a
// made-up socket identity (as Linux reports the inode), so that a
// listener's Key does not depend on its owner, and zero traffic counters;
// in sc's namespace and container.
func (p *Provider) ownRowLocked(sc Scope, s tcptable.State, local, remote netip.AddrPort) tcptable.Connection {
	p.sockets++
	c := tcptable.Connection{
		Socket:       p.sockets,
		State:        s,
		Local:        local,
		Remote:       remote,
		PID:          p.pid,
		OwnerStatus:  tcptable.OwnerOK,
		Module:       p.self,
		ModuleStatus: tcptable.OwnerNotSupported,
		Stats:        &tcptable.Stats{MSS: simulatedMSS},
		StatsStatus:  tcptable.StatsOK,
		NetNS:        sc.NetNS,
		NetNSName:    sc.NetNSName,
		Container:    sc.Container,
	}
	if !p.self.IsZero() {
		c.ModuleStatus, c.ModuleSource = tcptable.OwnerOK, tcptable.SourceSynthetic
	}
	return c
}

// portsLocked returns n simulated ports whose two bytes differ and that no
// row uses as its local port.
func (p *Provider) portsLocked(n int) ([]uint16, error) {
	used := make(map[uint16]bool, len(p.rows))
	for i := range p.rows {
		used[p.rows[i].Local.Port()] = true
	}
	var out []uint16
	for range 1 << 16 {
		port := p.nextPort
		p.nextPort++
		if p.nextPort < firstPort {
			p.nextPort = firstPort
		}
		if port>>8 != port&0xff && !used[port] {
			if out = append(out, port); len(out) == n {
				return out, nil
			}
		}
	}
	return nil, fmt.Errorf("mock: every simulated port from %d up is in use", firstPort)
}

// Listen adds a listener row on network's loopback address, owned by the
// calling process, and returns the Listener that removes it again.
func (p *Provider) Listen(network string) (conformance.Listener, error) {
	return p.listenLoopback(Scope{}, network)
}

// listenLoopback is Listen in sc.
func (p *Provider) listenLoopback(sc Scope, network string) (conformance.Listener, error) {
	ip, err := conformance.Loopback(network)
	if err != nil {
		return nil, err
	}
	return p.listen(sc, ip, false)
}

// ListenUnspecified adds a listener row on [::], owned by the calling
// process, with DualStack set unless v6only, as a real OS reports a socket
// with IPV6_V6ONLY off (or on); it returns the Listener that removes it.
func (p *Provider) ListenUnspecified(v6only bool) (conformance.Listener, error) {
	return p.listen(Scope{}, netip.IPv6Unspecified(), !v6only)
}

// listen adds a listener row in sc on ip and a simulated port.
func (p *Provider) listen(sc Scope, ip netip.Addr, dualStack bool) (conformance.Listener, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ports, err := p.portsLocked(1)
	if err != nil {
		return nil, err
	}
	local := netip.AddrPortFrom(ip, ports[0])
	c := p.ownRowLocked(sc, tcptable.StateListen, local, unspecified(local))
	c.DualStack = dualStack
	p.addLocked(c)
	return &listener{p: p, key: c.Key()}, nil
}

// listener is a simulated listening endpoint.
type listener struct {
	p   *Provider
	key tcptable.Key
}

// Addr returns the listener's address.
func (l *listener) Addr() netip.AddrPort { return l.key.Local }

// Close removes the listener's row; it is idempotent.
func (l *listener) Close() error {
	l.p.Remove(l.key)
	return nil
}

// Dial adds the two ESTABLISHED rows of a connected pair on network's
// loopback address, both owned by the calling process. The pair's
// listener is not simulated: it is closed once it has accepted.
func (p *Provider) Dial(network string) (conformance.Pair, error) {
	return p.dial(Scope{}, network)
}

// dial is Dial in sc.
func (p *Provider) dial(sc Scope, network string) (conformance.Pair, error) {
	ip, err := conformance.Loopback(network)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ports, err := p.portsLocked(2)
	if err != nil {
		return nil, err
	}
	sv, cl := netip.AddrPortFrom(ip, ports[0]), netip.AddrPortFrom(ip, ports[1])
	client := p.ownRowLocked(sc, tcptable.StateEstablished, cl, sv)
	server := p.ownRowLocked(sc, tcptable.StateEstablished, sv, cl)
	p.addLocked(client, server)
	pr := &pair{p: p, client: client.Key(), server: server.Key(), ends: newPairEnds()}
	p.kill.addPair(pr)
	return pr, nil
}

// pair is a simulated connected pair. The Keys of connected rows are their
// four-tuples, so they stay valid through every state change.
type pair struct {
	p              *Provider
	client, server tcptable.Key
	once           sync.Once
	ends           *pairEnds // what each end would read (kill.go)
}

// Client returns the dialing end's local address.
func (c *pair) Client() netip.AddrPort { return c.client.Local }

// Server returns the accepted end's local address.
func (c *pair) Server() netip.AddrPort { return c.server.Local }

// CloseWrite moves the client to FIN-WAIT-2 and the server to CLOSE-WAIT,
// as a shutdown(SHUT_WR) that the server has read to its end does.
func (c *pair) CloseWrite() error {
	if !c.p.SetState(c.client, tcptable.StateFinWait2) || !c.p.SetState(c.server, tcptable.StateCloseWait) {
		return fmt.Errorf("mock: pair %v <-> %v is closed", c.client.Local, c.server.Local)
	}
	c.ends.end(serverEnd)
	return nil
}

// CloseActive leaves the client in TIME-WAIT, owned by the kernel as on a
// real OS (PID 0, OwnerKernel, no module, no socket, no container, no
// statistics: StatsNotAvailable; the namespace stays), and removes the
// server's row.
func (c *pair) CloseActive() error {
	ok := c.p.Update(c.client, func(r *tcptable.Connection) {
		r.State = tcptable.StateTimeWait
		r.PID, r.OtherPIDs, r.OwnerStatus, r.Socket = 0, nil, tcptable.OwnerKernel, 0
		r.Module, r.ModuleStatus, r.ModuleSource = tcptable.Module{}, tcptable.OwnerKernel, tcptable.SourceNone
		r.Stats, r.StatsStatus = nil, tcptable.StatsNotAvailable
		r.Container = ""
	})
	c.p.Remove(c.server)
	if !ok {
		return fmt.Errorf("mock: pair %v <-> %v is closed", c.client.Local, c.server.Local)
	}
	c.ends.close() // the process closed both sockets
	return nil
}

// Close removes both rows (a TIME-WAIT row too: the mock does not make
// tests wait for it to expire). It is idempotent.
func (c *pair) Close() error {
	c.once.Do(func() {
		c.p.Remove(c.client, c.server)
		c.p.forgetPair(c)
		c.ends.close()
	})
	return nil
}

// firstSharePID is the first PID Share makes up: above Linux's largest
// (pid_max is at most 2^22), so it never names a real process.
const firstSharePID = 1<<22 + 1

// Share simulates another process holding l, a listener of this mock: it
// adds a made-up PID (firstSharePID, then the next ones) to the row's
// owners, keeping the lowest owner in PID and the others ascending in
// OtherPIDs; stop removes it again and is idempotent.
func (p *Provider) Share(l conformance.Listener) (uint32, func() error, error) {
	ml, ok := l.(*listener)
	if !ok || ml.p != p {
		return 0, nil, fmt.Errorf("mock: Share(%T): not a listener of this mock: %w", l, tcptable.ErrInvalid)
	}
	p.mu.Lock()
	p.shares++
	pid := firstSharePID + p.shares - 1
	p.mu.Unlock()
	edit := func(add bool) func(c *tcptable.Connection) {
		return func(c *tcptable.Connection) {
			owners := slices.DeleteFunc(c.Owners(), func(o uint32) bool { return o == 0 || o == pid })
			if add {
				owners = append(owners, pid)
			}
			slices.Sort(owners)
			c.PID, c.OtherPIDs = 0, nil
			if len(owners) > 0 {
				c.PID, c.OwnerStatus = owners[0], tcptable.OwnerOK
			}
			if len(owners) > 1 {
				c.OtherPIDs = owners[1:]
			}
		}
	}
	if !p.Update(ml.key, edit(true)) {
		return 0, nil, fmt.Errorf("mock: Share: listener %v is closed", ml.key.Local)
	}
	var once sync.Once
	return pid, func() error {
		once.Do(func() { p.Update(ml.key, edit(false)) })
		return nil
	}, nil
}
