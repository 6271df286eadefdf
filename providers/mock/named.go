package mock

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
)

// Provider simulates processes with the names the suite asks for.
var _ conformance.NamingEnv = (*Provider)(nil)

// ListenAs simulates another process named name holding a new listener on
// network's loopback address: a row owned by a made-up PID (from the
// range Share uses) with Module{Name: name, Path: "/mock/bin/" + name}.
// Closing the listener removes the row.
func (p *Provider) ListenAs(network, name string) (conformance.Listener, uint32, error) {
	if name == "" || strings.ContainsRune(name, '/') {
		return nil, 0, fmt.Errorf("mock: ListenAs(%q): not a file name: %w", name, tcptable.ErrInvalid)
	}
	ip, err := conformance.Loopback(network)
	if err != nil {
		return nil, 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ports, err := p.portsLocked(1)
	if err != nil {
		return nil, 0, err
	}
	p.shares++
	pid := firstSharePID + p.shares - 1
	local := netip.AddrPortFrom(ip, ports[0])
	c := p.ownRowLocked(Scope{}, tcptable.StateListen, local, unspecified(local))
	c.PID = pid
	c.Module = tcptable.Module{Name: name, Path: "/mock/bin/" + name}
	c.ModuleStatus, c.ModuleSource = tcptable.OwnerOK, tcptable.SourceSynthetic
	p.addLocked(c)
	return &listener{p: p, key: c.Key()}, pid, nil
}
