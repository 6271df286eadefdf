package mock

import "github.com/tcptable/tcptable/conformance"

// Scope says where simulated endpoints live: the network namespace and
// container their rows report (Connection.NetNS, NetNSName and
// Container). The zero Scope is the provider's own Listen and Dial: no
// namespace, no container.
type Scope struct {
	NetNS     uint64 // the namespace's inode; rows of different NetNS never share a Key
	NetNSName string // its name under /run/netns
	Container string // the owning process's container ID
}

// In returns an Env whose Listen and Dial add rows to p's table as p's own
// do, but carrying sc's namespace and container, so that a test can build
// the table of a host with several network namespaces or containers: the
// same addresses in two namespaces are two rows with two Keys. Its Share
// is p's. Container, like Module, is stripped from answers to queries that
// do not ask for modules.
func (p *Provider) In(sc Scope) conformance.SharingEnv { return scoped{p, sc} }

// scoped is the Env In returns.
type scoped struct {
	p  *Provider
	sc Scope
}

func (e scoped) Listen(network string) (conformance.Listener, error) {
	return e.p.listenLoopback(e.sc, network)
}

func (e scoped) Dial(network string) (conformance.Pair, error) { return e.p.dial(e.sc, network) }

func (e scoped) Share(l conformance.Listener) (uint32, func() error, error) { return e.p.Share(l) }
