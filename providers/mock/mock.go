package mock

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/tcptable/tcptable"
)

// Provider is an editable in-memory tcptable.Provider and a simulated
// conformance.Env. The zero value is not usable; call New.
type Provider struct {
	mu       sync.Mutex
	rows     []tcptable.Connection // in insertion order; no two share a Key
	index    map[tcptable.Key]int  // where each row's Key is in rows
	closed   bool
	faults   []error // errors for the next Table calls, first first
	latency  time.Duration
	queries  []tcptable.Query
	nextPort uint16 // where the search for a free simulated port resumes
	sockets  uint64 // the last simulated socket identity handed out
	self     tcptable.Module
	pid      uint32
	shares   uint32    // how many simulated processes Share and ListenAs have made up
	kill     killState // Kill's faults, calls and the open pairs (kill.go)

	traces      []*trace         // the running traces
	traceFaults []error          // errors for the next Trace calls, first first
	traceBuffer int              // SetTraceBuffer; 0: unbounded
	clock       func() time.Time // stamps traced events
	flushed     *sync.Cond       // on mu: a trace delivered events or ended
}

// firstPort is where simulated ports start: 40000, 0x9c40.
const firstPort = 40000

// New returns a provider that serves conns (deep-copied and completed as
// Add describes).
func New(conns ...tcptable.Connection) *Provider {
	p := &Provider{nextPort: firstPort, pid: uint32(os.Getpid()), clock: time.Now}
	p.flushed = sync.NewCond(&p.mu)
	if exe, err := os.Executable(); err == nil {
		p.self = tcptable.Module{Name: filepath.Base(exe), Path: exe}
	}
	p.Add(conns...)
	return p
}

// Table returns the rows q matches, as Query.Match and Query.Detail say,
// with each row's Stats when Query.Stats asks (see SetStats; a row without
// Stats then has its StatsStatus, or StatsNotAvailable if it has none) and
// nil Stats with StatsNotRequested otherwise.
// It fails with an error wrapping tcptable.ErrClosed after Close, with one
// wrapping tcptable.ErrInvalid for a query Query.Validate rejects, with one
// wrapping ctx.Err() when ctx ends first (also during a latency set with
// SetLatency), or with the next error queued by FailNext. Every call is
// recorded for Queries, failed ones too.
func (p *Provider) Table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	p.mu.Lock()
	q.States = slices.Clone(q.States)
	p.queries = append(p.queries, q)
	closed, latency := p.closed, p.latency
	p.mu.Unlock()

	if closed {
		return nil, fmt.Errorf("mock: table: %w", tcptable.ErrClosed)
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("mock: table: %w", err)
	}
	if err := wait(ctx, latency); err != nil {
		return nil, fmt.Errorf("mock: table: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.faults) > 0 {
		fault := p.faults[0]
		p.faults = p.faults[1:]
		if fault != nil {
			return nil, fault
		}
	}
	n := 0
	for i := range p.rows {
		if q.Match(p.rows[i]) {
			n++
		}
	}
	out := make([]tcptable.Connection, 0, n)
	for i := range p.rows {
		if q.Match(p.rows[i]) {
			out = append(out, answer(p.rows[i], q))
		}
	}
	q.Detail().Apply(out)
	return out, nil
}

// wait returns after d, or ctx's error when ctx ends first (at once if it
// has ended already).
func wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// answer returns a copy of c as an answer to q shows it, without the
// statistics q did not ask for; the caller applies q's owner detail
// (OwnerDetail.Apply) to the whole answer.
func answer(c tcptable.Connection, q tcptable.Query) tcptable.Connection {
	c = c.Clone()
	answerStats(&c, q.Stats)
	return c
}

// Close makes every later Table and Trace call fail with
// tcptable.ErrClosed, and ends the running traces with that error once they
// have delivered what they hold. It is idempotent and always returns nil.
// The rows stay, for Rows and Save.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		p.endTracesLocked(fmt.Errorf("mock: trace: %w", tcptable.ErrClosed))
	}
	return nil
}

// FailNext queues errs: the next len(errs) Table calls return them, one
// each, in order, as they are (so errors.Is and == both work); a nil error
// lets its call answer normally. Calls that fail for a closed provider or
// an ended context do not use them up.
func (p *Provider) FailNext(errs ...error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, errs...)
}

// SetLatency makes every Table call take d before it answers, or until
// its context ends; 0 (the default) answers at once.
func (p *Provider) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// Queries returns a copy of every Query Table received, oldest first.
func (p *Provider) Queries() []tcptable.Query {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]tcptable.Query, len(p.queries))
	for i, q := range p.queries {
		q.States = slices.Clone(q.States)
		out[i] = q
	}
	return out
}

// unspecified returns the Remote of a listener on local.
func unspecified(local netip.AddrPort) netip.AddrPort {
	if local.Addr().Is4() {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
}
