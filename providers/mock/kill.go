package mock

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
)

var (
	_ tcptable.Killer        = (*Provider)(nil)
	_ conformance.EndingPair = (*pair)(nil)
)

// KillFault is what an injected fault (FaultKillNext) makes one Kill call
// do instead of ending the row.
type KillFault struct {
	// Err, when not nil, is what Kill returns, as it is (so errors.Is and
	// == both work); the table stays as it was.
	Err error
	// Keep, with a nil Err, makes Kill report success and leave the table
	// as it was: a provider that assumes its kills instead of verifying
	// them. The conformance suite's Kill check fails such a provider.
	Keep bool
}

// KillCall is one recorded Kill call: the row asked for, as the caller
// passed it, and what Kill returned.
type KillCall struct {
	Conn tcptable.Connection
	Err  error
}

// killState is the provider's kill bookkeeping, under Provider.mu.
type killState struct {
	faults []KillFault
	calls  []KillCall
	pairs  map[tcptable.Key]*pair // both ends of every open pair Dial made
}

// addPair registers an open pair under the Keys of both its ends.
func (k *killState) addPair(pr *pair) {
	if k.pairs == nil {
		k.pairs = map[tcptable.Key]*pair{}
	}
	k.pairs[pr.client], k.pairs[pr.server] = pr, pr
}

// forgetPair drops a closed pair.
func (p *Provider) forgetPair(pr *pair) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.kill.pairs, pr.client)
	delete(p.kill.pairs, pr.server)
}

// Kill ends the row with c's Key (tcptable.Killer), as a real provider's
// Kill does: the row leaves the table. A row of a pair that Dial made is
// ended as a reset ends a real connection: both ends' rows go, and the
// pair's AwaitEnd returns for both ends. Kill fails with an error wrapping
// tcptable.ErrNotFound when no row has c's Key (nothing changes), with one
// wrapping tcptable.ErrClosed after Close, with one wrapping ctx.Err()
// when ctx has ended, or with the next fault queued by FaultKillNext
// (calls that fail for a closed provider or an ended context do not use
// faults up). Every call is recorded for Kills.
func (p *Provider) Kill(ctx context.Context, c tcptable.Connection) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.killLocked(ctx, &c)
	p.kill.calls = append(p.kill.calls, KillCall{Conn: c.Clone(), Err: err})
	return err
}

// killLocked is Kill with p.mu held, unrecorded.
func (p *Provider) killLocked(ctx context.Context, c *tcptable.Connection) error {
	if p.closed {
		return fmt.Errorf("mock: kill: %w", tcptable.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mock: kill: %w", err)
	}
	if len(p.kill.faults) > 0 {
		f := p.kill.faults[0]
		p.kill.faults = p.kill.faults[1:]
		if f.Err != nil || f.Keep {
			return f.Err
		}
	}
	k := completeKey(c.Key())
	if p.indexLocked(k) < 0 {
		return fmt.Errorf("mock: kill %v: %w", k, tcptable.ErrNotFound)
	}
	keys := []tcptable.Key{k}
	if pr := p.kill.pairs[k]; pr != nil {
		keys = append(keys, pr.client, pr.server) // the peer is reset: its row goes too
		pr.ends.end(clientEnd, serverEnd)
	}
	p.removeLocked(keys...)
	return nil
}

// FaultKillNext queues faults: the next len(faults) Kill calls take them,
// one each, in order; a zero KillFault lets its call end the row normally.
func (p *Provider) FaultKillNext(faults ...KillFault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.kill.faults = append(p.kill.faults, faults...)
}

// Kills returns every Kill call so far, oldest first, failed ones too.
func (p *Provider) Kills() []KillCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.kill.calls)
	for i := range out {
		out[i].Conn = out[i].Conn.Clone()
	}
	return out
}

// The ends of a pair, as indexes of pairEnds.
const (
	clientEnd = iota
	serverEnd
)

// pairEnds says what a read on each end of a simulated pair would return:
// it blocks until the connection ends for that end (a kill, or the peer's
// FIN), and fails once the pair is closed.
type pairEnds struct {
	ended  [2]chan struct{}
	once   [2]sync.Once
	closed chan struct{}
	close1 sync.Once
}

func newPairEnds() *pairEnds {
	return &pairEnds{ended: [2]chan struct{}{make(chan struct{}), make(chan struct{})}, closed: make(chan struct{})}
}

// end makes reads on these ends return.
func (e *pairEnds) end(ends ...int) {
	for _, i := range ends {
		e.once[i].Do(func() { close(e.ended[i]) })
	}
}

// close marks the pair's sockets closed by their owner.
func (e *pairEnds) close() { e.close1.Do(func() { close(e.closed) }) }

// AwaitEnd waits until a read on the end at local (Client() or Server())
// would return end of file or an error: after a Kill of either end's row
// and, for the server end, after CloseWrite. After CloseActive or Close
// (which close the pair's sockets) it fails with an error wrapping
// net.ErrClosed, as a read on a closed socket does; an address that is
// neither end is an error wrapping tcptable.ErrInvalid. It implements
// conformance.EndingPair.
func (c *pair) AwaitEnd(ctx context.Context, local netip.AddrPort) error {
	i := clientEnd
	switch local {
	case c.client.Local:
	case c.server.Local:
		i = serverEnd
	default:
		return fmt.Errorf("mock: AwaitEnd(%v): not an end of the pair %v <-> %v: %w", local, c.client.Local, c.server.Local, tcptable.ErrInvalid)
	}
	select {
	case <-c.ends.ended[i]:
		return nil
	default:
	}
	select {
	case <-c.ends.ended[i]:
		return nil
	case <-c.ends.closed:
		return fmt.Errorf("mock: AwaitEnd(%v): %w", local, net.ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("mock: AwaitEnd(%v): the connection has not ended: %w", local, ctx.Err())
	}
}
