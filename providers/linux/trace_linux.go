package linux

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux/internal/events"
	"github.com/tcptable/tcptable/providers/linux/internal/owners"
)

var _ tcptable.ReadyTracer = (*Provider)(nil)

// Trace reports the changes of the rows q matches as the kernel makes
// them; see tcptable.Tracer. Its source is the best one available
// (TraceSource says which): BPF programs on the kernel's TCP state-change
// tracepoint, or else the sock_diag destroy groups with a poll of the
// table. Where neither can run (no privilege, no BTF), Trace returns an
// error wrapping tcptable.ErrNotSupported that says why, before calling
// fn.
//
// With BPF, every state change of every socket of the provider's network
// namespace is reported at the time the kernel made it; owners are those
// the process-context calls attribute (connect, listen, accept, close);
// Created is the socket's birth where the recorder saw it. Two kinds of
// change reach fn later than they happen, because no tracepoint reports
// them: the opening of an outgoing connection before its local port is
// chosen (it is reported with the connection's next change, or within 100
// ms), and the end of a TIME-WAIT minisocket (found by a poll of the
// table, WithTracePoll, and stamped with the poll's time). See
// docs/linux.md.
//
// fn is called from one goroutine, never concurrently for one Trace, and
// must not call Trace itself. Several Traces of one provider share the
// kernel's ring buffer: a slow fn delays the others.
func (p *Provider) Trace(ctx context.Context, q tcptable.Query, fn func(tcptable.Event) error) error {
	return p.TraceReady(ctx, q, nil, fn)
}

// TraceReady is Trace that calls ready, once and before fn's first call,
// when the trace is live (every later change will be reported), with the
// source's name: "bpf" or "sock_diag" (TraceSource's String). See
// tcptable.ReadyTracer.
func (p *Provider) TraceReady(ctx context.Context, q tcptable.Query, ready func(source string), fn func(tcptable.Event) error) error {
	if ready == nil {
		ready = func(string) {}
	}
	if err := q.Validate(); err != nil {
		return fmt.Errorf("tcptable/linux: Trace: %w", err)
	}
	src, why := p.TraceSource()
	switch src {
	case TraceBPF:
		h, err := p.traceHub(ctx)
		if err != nil {
			return fmt.Errorf("tcptable/linux: Trace: %w", err)
		}
		return h.run(ctx, q, func() { ready(src.String()) }, fn)
	case TraceSockDiag:
		return p.traceDestroy(ctx, q, func() { ready(src.String()) }, fn)
	}
	return fmt.Errorf("tcptable/linux: Trace: %w: %v", tcptable.ErrNotSupported, why)
}

// TraceSource reports the source Trace uses, and why no better one can be
// used (nil for TraceBPF). It waits for the BPF recorder to load if New
// started it.
func (p *Provider) TraceSource() (TraceSource, error) {
	p.mu.Lock()
	closed, rec, bpfErr, forced := p.closed.Load(), p.rec, p.recErr, p.cfg.trace.source
	p.mu.Unlock()
	if closed {
		return TracePoll, tcptable.ErrClosed
	}
	if p.cfg.allNetNS {
		// A trace of one namespace would miss, silently, the changes of
		// every other one the table lists.
		return TracePoll, errTraceAllNetNS
	}
	if bpfErr == nil && forced != TraceSockDiag && forced != TracePoll {
		if _, err := rec.wait(context.Background()); err == nil {
			return TraceBPF, nil
		} else {
			bpfErr = err
		}
	}
	bpfErr = fmt.Errorf("BPF: %w", bpfErr)
	if forced == TraceBPF || forced == TracePoll {
		return TracePoll, bpfErr
	}
	if err := destroyAllowed(); err != nil {
		return TracePoll, fmt.Errorf("%w; sock_diag destroy groups: %w", bpfErr, err)
	}
	return TraceSockDiag, bpfErr
}

// errTraceAllNetNS is why a WithAllNetNS provider does not trace.
var errTraceAllNetNS = errors.New("WithAllNetNS: kernel events follow one network namespace (the recorder's filter, " +
	"the sock_diag groups' socket), and the table lists every one: poll it instead")

// traceHub returns the provider's hub, made on first use.
func (p *Provider) traceHub(ctx context.Context) (*hub, error) {
	rec, err := p.rec.wait(ctx)
	if err != nil {
		return nil, err
	}
	p.rec.mu.Lock()
	defer p.rec.mu.Unlock()
	if p.rec.closed {
		return nil, tcptable.ErrClosed
	}
	if p.rec.hub == nil {
		p.rec.hub = &hub{p: p, rec: rec}
	}
	return p.rec.hub, nil
}

// kernelRecorder is what the hub uses of an events.Recorder.
type kernelRecorder interface {
	Read(r *events.Record, deadline time.Time) error
	Lost() (uint64, error)
	Missed() (uint64, error)
	SetFilter(f events.Filter, tracing bool) error
	Clock() events.Clock
}

// hub reads the recorder's ring buffer for every Trace of a provider.
type hub struct {
	p   *Provider
	rec kernelRecorder

	mu      sync.Mutex
	subs    []*subscriber // replaced, never changed in place: a range over it survives removals
	running bool
	stop    chan struct{}
	stopped chan struct{}

	// Owned by the reader goroutine.
	conv    converter
	pending map[uint64]*pendingOpen // outgoing connections without a port yet
	free    []*pendingOpen          // pendingOpens to reuse
	tw      map[uint64]twRow        // TIME-WAIT minisockets, by cookie
	twPairs map[addrPair]uint64     // their cookies, by address pair
	failed  bool                    // fail ended the Traces: the reader stops
	probing bool                    // a probe runs (and has the sock_diag socket)
	probed  chan *probe             // where it ends
	// The probes' view of the followed minisockets (see probe).
	mirror   *twMirror // nil while a probe has it
	twLog    []twOp    // changes since the last probe
	twReset  bool      // twLog starts from nothing
	spareLog []twOp
	twFams   [2]int // followed minisockets by family
	lastTW   time.Time
	diag     *diagConn
	evs      []tcptable.Event
	before   tcptable.Connection // dispatch's rows
	after    tcptable.Connection
	exes     map[procKey]string
	count    uint64 // records handled
	lostSeen uint64 // the largest loss count lostUpTo was given
	lastExe  struct {
		key  procKey
		path string
	}
	lastHouse time.Time
}

// subscriber is one Trace.
type subscriber struct {
	q      tcptable.Query
	fn     func(tcptable.Event) error
	since  uint64 // boot-clock ns when it started: older records are not its
	lost   uint64 // the ring's loss count it has been told of
	missed uint64 // the programs' recursion misses it has been told of
	err    error
	done   chan struct{}
}

// pendingOpen is an outgoing connection's opening held until its port is
// known.
type pendingOpen struct {
	rec   events.Record
	seen  time.Time
	seq   uint64 // h.count when held
	tries int    // dumps that did not find it
}

// twRow is a TIME-WAIT minisocket the trace reported: its row as a dump
// shows it (State its substate), and its connection's birth (boot clock,
// ns; 0 unknown). Small enough for a map to hold it in place.
type twRow struct {
	d     diagRow
	birth uint64
	seq   uint64 // h.count when followed
}

// twConn returns t's row, owned by the kernel, in the provider's namespace.
func (cv *converter) twConn(t *twRow) tcptable.Connection {
	c, _ := cv.plain(&t.d)
	c.Created = cv.clock.Wall(t.birth)
	c.OwnerStatus, c.ModuleStatus = tcptable.OwnerKernel, tcptable.OwnerKernel
	c.StatsStatus = tcptable.StatsNotRequested // as rowInto's
	return c
}

// procKey identifies a process across PID reuse.
type procKey struct {
	pid   uint32
	start uint64
}

// Tuning of the reader.
const (
	readTick       = 5 * time.Millisecond   // how long a read waits (the programs wake the reader only when the ring fills up)
	houseTick      = 100 * time.Millisecond // how often the reader does its housekeeping
	pendingTimeout = 100 * time.Millisecond // when a held opening is looked up
	maxPending     = 1 << 16
	maxExes        = 4096
	clockEvery     = 256 // records between two readings of the clock
)

// run adds a subscriber and serves it until ctx ends or fn fails.
func (h *hub) run(ctx context.Context, q tcptable.Query, ready func(), fn func(tcptable.Event) error) error {
	lost, _ := h.rec.Lost()
	missed, _ := h.rec.Missed()
	s := &subscriber{q: q, fn: fn, since: bootNow(), lost: lost, missed: missed, done: make(chan struct{})}
	if err := h.add(s, ready); err != nil {
		return fmt.Errorf("tcptable/linux: Trace: %w", err)
	}
	select {
	case <-ctx.Done():
		h.remove(s)
		return fmt.Errorf("tcptable/linux: Trace: %w", ctx.Err())
	case <-s.done:
		return s.err
	}
}

// add registers s, updates the kernel's filter, starts the reader and
// calls ready before the reader can call s's fn.
func (h *hub) add(s *subscriber, ready func()) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for !h.running && h.stopped != nil && !closed(h.stopped) {
		// The last reader is stopping (the last Trace ended, or it
		// failed): it still holds the reader's state.
		stopped := h.stopped
		h.mu.Unlock()
		<-stopped
		h.mu.Lock()
	}
	h.subs = append(slices.Clip(h.subs), s)
	if err := h.rec.SetFilter(h.filter(), true); err != nil {
		h.removeSub(s)
		return err
	}
	if !h.running {
		if err := h.begin(); err != nil {
			h.removeSub(s)
			h.rec.SetFilter(events.Filter{}, false)
			return err
		}
		h.running = true
		h.stop, h.stopped = make(chan struct{}), make(chan struct{})
		go h.read(h.stop, h.stopped)
	}
	ready() // under h.mu: the reader waits for it to deliver
	return nil
}

// remove unregisters s (it is never called again after remove returns)
// and stops the reader after the last one.
func (h *hub) remove(s *subscriber) {
	h.mu.Lock()
	if !h.removeSub(s) {
		h.mu.Unlock()
		return
	}
	last := len(h.subs) == 0
	if last {
		h.rec.SetFilter(events.Filter{}, false)
	} else {
		h.rec.SetFilter(h.filter(), true)
	}
	stop, stopped := h.stop, h.stopped
	if last {
		h.running = false
	}
	h.mu.Unlock()
	if last {
		close(stop)
		<-stopped
	}
}

// shutdown ends every Trace (the provider is closing).
func (h *hub) shutdown() {
	h.mu.Lock()
	subs := h.subs
	h.subs = nil
	running, stop, stopped := h.running, h.stop, h.stopped
	h.running = false
	h.mu.Unlock()
	if running {
		close(stop)
		<-stopped
	}
	if h.diag != nil {
		h.diag.close()
		h.diag = nil
	}
	for _, s := range subs {
		s.err = fmt.Errorf("tcptable/linux: Trace: %w", tcptable.ErrClosed)
		close(s.done)
	}
}

// removeSub unregisters s, if it is registered. Called with h.mu held.
func (h *hub) removeSub(s *subscriber) bool {
	i := slices.Index(h.subs, s)
	if i < 0 {
		return false
	}
	h.subs = slices.Delete(slices.Clone(h.subs), i, i+1)
	return true
}

// filter is the union of the subscribers' cheap conditions.
func (h *hub) filter() events.Filter {
	var f events.Filter
	first := true
	for _, s := range h.subs {
		sf := kernelFilter(s.q)
		if first {
			f, first = sf, false
		} else {
			f = events.Union(f, sf)
		}
	}
	return f
}

// kernelFilter is q's family, port and state conditions for the programs.
// Its families are those Table reads to answer q (Query.ReadFamily): an
// IPv4 query that can select a listener or a bound socket lets through the
// dual-stack AF_INET6 sockets too (and only those of AF_INET6, as Table's
// dump of AF_INET6 for it asks for LISTEN and CLOSE only).
func kernelFilter(q tcptable.Query) events.Filter {
	f := events.Filter{States: stateMask(q), LocalPort: q.LocalPort, RemotePort: q.RemotePort, Port: q.Port}
	if q.ReadFamily(tcptable.IPv4) {
		f.Families |= events.FamilyIPv4
	}
	switch {
	case q.MatchFamily(tcptable.IPv6):
		f.Families |= events.FamilyIPv6
	case q.ReadFamily(tcptable.IPv6):
		f.Families |= events.FamilyDualStack
	}
	// A row that stops matching is reported closed, so a record whose
	// old or new state can match passes (the programs check both).
	return f
}

// begin prepares the reader's state: the owners of the sockets that
// predate the recorder (from a snapshot), and the TIME-WAIT minisockets
// whose end the trace must report. Called with h.mu held.
func (h *hub) begin() error {
	h.conv = h.p.traceConverter()
	h.conv.clock, h.conv.seed = h.rec.Clock(), map[uint64]owned{}
	h.conv.module = h.exe
	h.pending = map[uint64]*pendingOpen{}
	h.tw = map[uint64]twRow{}
	h.twPairs = map[addrPair]uint64{}
	h.probed = make(chan *probe, 1)
	h.failed = false
	h.mirror, h.twLog, h.twReset, h.twFams = nil, nil, true, [2]int{}
	h.exes = map[procKey]string{}
	rows, err := h.p.Table(context.Background(), tcptable.Query{})
	if err != nil && !errors.Is(err, tcptable.ErrInconsistent) {
		return fmt.Errorf("first snapshot: %w", err)
	}
	for i := range rows {
		if c := &rows[i]; c.Socket != 0 && c.PID != 0 {
			h.conv.seed[c.Socket] = owned{pid: c.PID, module: c.Module}
		}
	}
	if h.diag == nil {
		if h.diag, err = h.p.newDiagConn(); err != nil {
			return err
		}
	}
	h.lastTW = time.Now()
	return h.followTimeWait()
}

// followTimeWait starts following the TIME-WAIT and FIN-WAIT-2
// minisockets a dump shows, to report their ends.
func (h *hub) followTimeWait() error {
	for _, fam := range []uint8{afInet, afInet6} {
		_, err := h.diag.dump(context.Background(), fam, 1<<tcpTimeWait|1<<tcpFinWait2, 0, func(d *diagRow) {
			if d.Inode == 0 && (d.Family == afInet || d.Family == afInet6) {
				h.followTW(d.Cookie, twRow{d: *d})
			}
		})
		if err != nil {
			h.diag.close()
			h.diag = nil
			return err
		}
	}
	return nil
}

// exe returns an owner's executable path, cached per process.
func (h *hub) exe(o *events.Owner) string {
	k := procKey{o.PID, o.Start}
	if k == h.lastExe.key {
		return h.lastExe.path
	}
	if p, ok := h.exes[k]; ok {
		h.lastExe.key, h.lastExe.path = k, p
		return p
	}
	if len(h.exes) >= maxExes {
		clear(h.exes)
	}
	// /proc/PID/stat counts the start in USER_HZ (100) ticks.
	p, _ := owners.Executable(h.p.cfg.procRoot, o.PID, o.Start/(1e9/100))
	h.exes[k] = p
	h.lastExe.key, h.lastExe.path = k, p
	return p
}

// read is the reader goroutine. It reads records until none comes for
// readTick, and does its housekeeping then, or every clockEvery records
// if they keep coming.
func (h *hub) read(stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	defer h.dropProbe()
	var r events.Record
	deadline := time.Now().Add(readTick)
	for n := 0; ; n++ {
		if n%clockEvery == 0 {
			select {
			case <-stop:
				return
			case p := <-h.probed:
				h.probeDone(p)
			default:
			}
			if now := time.Now(); now.Sub(h.lastHouse) >= houseTick {
				h.lastHouse = now
				h.housekeep(now)
			}
		}
		if h.failed {
			return
		}
		err := h.rec.Read(&r, deadline)
		switch {
		case err == nil:
			h.record(&r)
		case errors.Is(err, events.ErrTimeout):
			deadline, n = time.Now().Add(readTick), -1
		case errors.Is(err, events.ErrMalformed):
			h.broadcastLost(0) // a record we cannot read is a lost one
		default:
			h.fail(err)
			return
		}
	}
}

// closed reports whether c is closed.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// fail ends every Trace with err. Called by the reader, which then stops.
func (h *hub) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.subs {
		s.err = fmt.Errorf("tcptable/linux: Trace: %w", err)
		close(s.done)
	}
	h.subs = nil
	h.running = false
	h.failed = true
	h.rec.SetFilter(events.Filter{}, false)
}

// housekeep reports losses seen without a record, resolves held
// openings, and polls the TIME-WAIT minisockets when due.
func (h *hub) housekeep(now time.Time) {
	if n, err := h.rec.Lost(); err == nil {
		h.lostUpTo(n)
	}
	h.checkMissed()
	if h.probing {
		return
	}
	tw := now.Sub(h.lastTW) >= h.p.cfg.trace.diagPoll
	ports := false
	for _, p := range h.pending {
		if now.Sub(p.seen) >= pendingTimeout {
			ports = true
			break
		}
	}
	if tw || ports {
		if tw {
			h.lastTW = now
		}
		h.startProbe(now, tw, ports)
	}
}

// dropProbe waits for the probe in flight, if any, and takes the
// sock_diag socket back without applying the probe (the reader stops).
func (h *hub) dropProbe() {
	if h.probing {
		p := <-h.probed
		h.probing, h.diag = false, p.diag
	}
}

// checkMissed reports the programs' recursion misses as losses.
func (h *hub) checkMissed() {
	if total, err := h.rec.Missed(); err == nil {
		h.reportLost(total, func(s *subscriber) *uint64 { return &s.missed })
	}
}

// lostUpTo tells every subscriber of the ring's losses up to total.
// Every subscriber knows of the losses up to the largest total seen so
// far (one that started later knew of all of them when it started).
func (h *hub) lostUpTo(total uint64) {
	if total <= h.lostSeen {
		return
	}
	h.lostSeen = total
	h.reportLost(total, func(s *subscriber) *uint64 { return &s.lost })
}

// reportLost gives every subscriber an EventLost for the part of a loss
// count (total) it has not been told of (*told), and records it as told.
func (h *hub) reportLost(total uint64, told func(*subscriber) *uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.subs {
		if t := told(s); total > *t {
			h.deliver(s, &tcptable.Event{Kind: tcptable.EventLost, Lost: total - *t, Time: time.Now().UTC()})
			*t = total
		}
	}
}

// broadcastLost reports n more lost events (0: unknown how many).
func (h *hub) broadcastLost(n uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.subs {
		h.deliver(s, &tcptable.Event{Kind: tcptable.EventLost, Lost: n, Time: time.Now().UTC()})
	}
}

// deliver calls s's fn with e; an error ends that Trace. Called with
// h.mu held.
func (h *hub) deliver(s *subscriber, e *tcptable.Event) {
	if s.err != nil {
		return
	}
	if err := s.fn(*e); err != nil {
		s.err = err
		h.removeSub(s)
		close(s.done)
		if len(h.subs) == 0 {
			h.rec.SetFilter(events.Filter{}, false)
		}
	}
}

// missedEvery is how many records the reader handles between two reads of
// the programs' miss counters while it is busy (it reads them when idle
// too).
const missedEvery = 1024

// record handles one record from the ring.
func (h *hub) record(r *events.Record) {
	h.lostUpTo(r.Lost)
	if h.count++; h.count%missedEvery == 0 {
		h.checkMissed()
	}
	if len(h.pending) > 0 {
		if p, ok := h.pending[r.Cookie]; ok {
			// The held opening learns its port from this later record.
			h.unhold(r.Cookie, p)
			if r.SPort != 0 {
				p.rec.SPort, p.rec.Src = r.SPort, r.Src
				h.dispatch(&p.rec)
			} else if classify(r) == changeClosed {
				return // connect() failed before it had a port: the table never showed it
			}
		}
	}
	if r.Kind == events.KindState && r.Old == tcpClose && r.New == tcpSynSent && r.SPort == 0 {
		if len(h.pending) >= maxPending {
			h.resolveAllPending(time.Now())
		}
		h.hold(r)
		return
	}
	if classify(r) == changeOpened {
		h.reused(r)
	}
	h.dispatch(r)
	// A socket the TIME-WAIT poll follows (an orphan in FIN-WAIT-2 looks
	// like a minisocket there) is followed by its records again, unless a
	// minisocket took it over now.
	if r.Old == tcpFinWait2 && len(h.tw) > 0 {
		h.forgetTW(r.Cookie)
	}
	if r.TimeWait {
		h.followTW(r.Cookie, twRow{d: recordRow(r, r.New), birth: r.Birth})
	}
}

// hold keeps r, an opening without its port, until a later record or a
// dump gives the port.
func (h *hub) hold(r *events.Record) {
	var p *pendingOpen
	if n := len(h.free); n > 0 {
		p, h.free = h.free[n-1], h.free[:n-1]
	} else {
		p = new(pendingOpen)
	}
	p.rec, p.seen, p.seq, p.tries = *r, time.Now(), h.count, 0
	h.pending[r.Cookie] = p
}

// unhold stops holding p, the opening of cookie. p stays valid until the
// next hold.
func (h *hub) unhold(cookie uint64, p *pendingOpen) {
	delete(h.pending, cookie)
	if len(h.free) < 64 {
		h.free = append(h.free, p)
	}
}

// reused reports the end of a TIME-WAIT minisocket whose address pair a
// new connection now takes (the kernel ended it for the new one).
func (h *hub) reused(r *events.Record) {
	if len(h.tw) == 0 {
		return
	}
	d := recordRow(r, r.New)
	ck, ok := h.twPairs[pairOf(&d)]
	if !ok {
		return
	}
	t := h.tw[ck]
	h.forgetTW(ck)
	h.broadcast(changeClosed, h.conv.twConn(&t), tcptable.Connection{}, h.conv.clock.Wall(r.Time))
}

// followTW starts following a minisocket.
func (h *hub) followTW(ck uint64, t twRow) {
	t.seq = h.count
	if _, ok := h.tw[ck]; !ok {
		h.twFams[famIndex(t.d.Family)]++
	}
	h.tw[ck] = t
	h.twPairs[pairOf(&t.d)] = ck
	h.logTW(twOp{cookie: ck, seq: t.seq, state: t.d.State, fam: t.d.Family})
}

// forgetTW stops following a minisocket.
func (h *hub) forgetTW(ck uint64) {
	if t, ok := h.tw[ck]; ok {
		delete(h.tw, ck)
		h.twFams[famIndex(t.d.Family)]--
		if p := pairOf(&t.d); h.twPairs[p] == ck {
			delete(h.twPairs, p)
		}
		h.logTW(twOp{cookie: ck, forget: true})
	}
}

// addrPair is a connection's local and remote address and port, as a
// kernel row has them (IPv4 in the first 4 bytes, the rest zero).
type addrPair struct {
	src, dst     [16]byte
	sport, dport uint16
}

// pairOf returns d's address pair.
func pairOf(d *diagRow) addrPair {
	p := addrPair{src: d.Src, dst: d.Dst, sport: d.SPort, dport: d.DPort}
	if d.Family == afInet {
		clear(p.src[4:])
		clear(p.dst[4:])
	}
	return p
}

// dispatch converts r and hands its events to every subscriber.
func (h *hub) dispatch(r *events.Record) {
	h.conv.rowsInto(&h.before, &h.after, r)
	h.broadcastSince(r.Time, classify(r), &h.before, &h.after, h.conv.clock.Wall(r.Time))
}

// broadcast hands one change to every subscriber.
func (h *hub) broadcast(ch change, before, after tcptable.Connection, t time.Time) {
	h.broadcastSince(0, ch, &before, &after, t)
}

// broadcastSince hands one change made at boot-clock time ts (0: now) to
// every subscriber that started before it.
func (h *hub) broadcastSince(ts uint64, ch change, before, after *tcptable.Connection, t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.subs {
		if ts != 0 && ts < s.since {
			continue
		}
		h.evs = viewEventsOf(h.evs[:0], &s.q, ch, before, after, t)
		for i := range h.evs {
			h.deliver(s, &h.evs[i])
		}
	}
}

// resolveAllPending reports every held opening with the port a dump of
// the SYN-SENT sockets finds, and those it does not find as lost (the
// held openings are too many).
func (h *hub) resolveAllPending(now time.Time) {
	h.awaitProbe()
	p := &probe{start: h.count, at: now, ports: map[uint64]diagRow{}, fams: [2]bool{true, true}, diag: h.diag}
	h.diag = nil
	h.dumpProbe(p)
	h.diag = p.diag
	if p.err != nil {
		h.fail(p.err)
		return
	}
	h.settlePending(p, true)
}

// bootNow reads the boot clock (CLOCK_BOOTTIME), in nanoseconds.
func bootNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Nano())
}
