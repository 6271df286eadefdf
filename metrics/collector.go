package metrics

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tcptable/tcptable"
)

// Collector is a prometheus.Collector that exports a tcptable.Provider's
// TCP table as bounded series: counts by state and family, by process
// (top N and "other"), listeners, and, where the provider can, connections
// opened and closed and bytes moved per process. The package doc lists
// every series.
//
// Every Collect reads the table once; Collects that overlap share one
// read, which ends at the deadline of the Collect that started it. When the provider implements tcptable.Tracer, the collector
// follows its trace in the background from NewCollector until Close.
// A Collector is safe for concurrent use.
type Collector struct {
	p   tcptable.Provider
	cfg config
	d   descs

	mu           sync.Mutex // guards what the reads and the trace accumulate
	reads        uint64
	scrapeErrors [numReasons]uint64
	traffic      *counterSet // bytes sent (0), received (1) and segments retransmitted (2) per process
	trafficSeen  bool        // some row ever carried Stats
	trace        traceState

	// bmu guards bytes apart from mu: at 200,000 rows a read holds it for
	// tens of milliseconds, which the trace must not wait for unless it
	// reports a close with counters.
	bmu   sync.Mutex
	bytes *byteMeter

	fmu    sync.Mutex // guards the flight and closed
	cur    *flight    // the read in progress, if any
	closed bool

	buf []tcptable.Connection // the last answer of a ReusingProvider, only touched by the read in progress

	stop context.CancelFunc
	wg   sync.WaitGroup // the trace and the reads in progress
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector of p's table. The caller keeps owning p
// (the collector never closes it) and must Close the collector when done,
// to end its background trace.
func NewCollector(p tcptable.Provider, opts ...Option) *Collector {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &Collector{
		p:       p,
		cfg:     cfg,
		d:       newDescs(),
		bytes:   newByteMeter(),
		traffic: newCounterSet(cfg.top),
		stop:    stop,
	}
	if tr, ok := p.(tcptable.Tracer); ok && cfg.trace {
		c.trace = traceState{enabled: true, churn: newCounterSet(cfg.top), openers: map[tcptable.Key]string{}, held: newHeldOpens()}
		c.wg.Add(1)
		go c.runTrace(ctx, tr)
	}
	return c
}

// Close stops the background trace and waits for it and for the table
// reads in progress to end. Collect keeps working after Close while the
// provider is open, without trace counts. Close is idempotent and returns
// nil.
func (c *Collector) Close() error {
	c.fmu.Lock()
	c.closed = true
	c.fmu.Unlock()
	c.stop()
	c.wg.Wait()
	return nil
}

// Describe sends the descriptor of every series the collector may export.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { c.d.describe(ch) }

// Collect reads the table (or joins a read in progress) within the
// timeout set by WithTimeout and sends the series.
func (c *Collector) Collect(ch chan<- prometheus.Metric) { c.collect(context.Background(), ch) }

// WithContext returns a view of c whose Collect reads the table under ctx:
// the read ends at ctx's deadline, or at the WithTimeout timeout if that
// comes first. An HTTP handler uses it to honour the scrape timeout
// Prometheus sends (X-Prometheus-Scrape-Timeout-Seconds) by registering
// the view in a registry made for the request. The view shares all of
// c's state; registering c and a view in one registry is an error.
func (c *Collector) WithContext(ctx context.Context) prometheus.Collector {
	return ctxCollector{c, ctx}
}

type ctxCollector struct {
	c   *Collector
	ctx context.Context
}

func (v ctxCollector) Describe(ch chan<- *prometheus.Desc) { v.c.Describe(ch) }
func (v ctxCollector) Collect(ch chan<- prometheus.Metric) { v.c.collect(v.ctx, ch) }

func (c *Collector) collect(ctx context.Context, ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	r := c.shared(ctx)
	c.mu.Lock()
	if r.err != nil {
		c.scrapeErrors[reasonOf(r.err)]++
	}
	k := c.countersLocked()
	c.mu.Unlock()
	c.emit(r, &k, ch)
}

// flight is one table read that concurrent collects share.
type flight struct {
	done    chan struct{}
	res     *result
	waiters int // collects waiting for it, for tests
}

// shared returns the result of the read in progress, or of a new one,
// or, when ctx ends first, a failed result.
func (c *Collector) shared(ctx context.Context) *result {
	start := time.Now()
	c.fmu.Lock()
	f := c.cur
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.cur = f
		// The read outlives a caller that gives up (the others may
		// still wait for it) but not the caller's deadline.
		rctx, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
		if dl, ok := ctx.Deadline(); ok {
			rctx, cancel = context.WithDeadline(rctx, dl)
		}
		c.mu.Lock()
		c.reads++
		c.mu.Unlock()
		tracked := !c.closed
		if tracked {
			c.wg.Add(1)
		}
		go func() {
			res := c.read(rctx)
			cancel()
			c.fmu.Lock()
			c.cur = nil
			f.res = res
			c.fmu.Unlock()
			close(f.done)
			if tracked {
				c.wg.Done()
			}
		}()
	}
	f.waiters++
	c.fmu.Unlock()
	select {
	case <-f.done:
		return f.res
	case <-ctx.Done():
		return &result{err: ctx.Err(), duration: time.Since(start)}
	}
}

// The reasons a scrape got no (or a partial) table, the values of
// tcptable_scrape_errors_total's reason label.
const (
	reasonTimeout = iota
	reasonCanceled
	reasonInconsistent
	reasonError
	numReasons
)

var reasonLabels = [numReasons]string{"timeout", "canceled", "inconsistent", "error"}

func reasonOf(err error) int {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return reasonTimeout
	case errors.Is(err, context.Canceled):
		return reasonCanceled
	case errors.Is(err, tcptable.ErrInconsistent):
		return reasonInconsistent
	}
	return reasonError
}

// errNoProvider is what reads of a collector made without a provider fail with.
var errNoProvider = errors.New("metrics: the collector has no provider")

// result is what one read gives every collect that shares it.
type result struct {
	t        *tally // nil when the read gave no table
	err      error
	duration time.Duration
}

// counters is a copy of the accumulated state, taken by each collect
// (countersLocked).
type counters struct {
	reads        uint64
	scrapeErrors [numReasons]uint64
	traffic      []counterValue
	trafficSeen  bool // some row ever carried Stats
	tracing      bool
	traceUp      bool
	traceSource  string
	traceErrors  uint64
	traceLost    uint64
	unattributed [numUnattributed]uint64 // opens counted without their owner (hold.go)
	churn        []counterValue
}

// read reads and reduces the table, and accumulates what it says.
func (c *Collector) read(ctx context.Context) *result {
	start := time.Now()
	var rows []tcptable.Connection
	err := errNoProvider
	q := tcptable.Query{Stats: c.cfg.stats}
	if rp, ok := c.p.(tcptable.ReusingProvider); ok {
		// Reads never overlap (a flight starts when the last one ended),
		// so the last answer's array can hold the next.
		rows, err = rp.TableInto(ctx, q, c.buf)
		c.buf = rows
	} else if c.p != nil {
		rows, err = c.p.Table(ctx, q)
	}
	var t *tally
	if err == nil || (errors.Is(err, tcptable.ErrInconsistent) && rows != nil) {
		t = newTally(rows, &c.cfg)
	}
	var d map[owner]*byteDelta
	seen := false
	if err == nil && c.cfg.stats {
		d = map[owner]*byteDelta{}
		c.bmu.Lock()
		c.bytes.observe(rows, d)
		seen = c.bytes.seen
		c.bmu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for o, bd := range d {
		c.addTraffic(o.label(), bd)
	}
	c.trafficSeen = c.trafficSeen || seen
	now := c.cfg.now()
	c.traffic.rebalance(now)
	if c.trace.enabled {
		c.trace.churn.rebalance(now)
	}
	return &result{t: t, err: err, duration: time.Since(start)}
}

// addTraffic adds one process' increments to the traffic counters; c.mu
// is held.
func (c *Collector) addTraffic(process string, bd *byteDelta) {
	c.traffic.add(process, 0, bd.sent)
	c.traffic.add(process, 1, bd.received)
	c.traffic.add(process, 2, bd.retrans)
}

// countersLocked copies the accumulated state; c.mu is held.
func (c *Collector) countersLocked() counters {
	k := counters{
		reads:        c.reads,
		scrapeErrors: c.scrapeErrors,
		traffic:      c.traffic.values(),
		trafficSeen:  c.trafficSeen,
		tracing:      c.trace.enabled,
		traceUp:      c.trace.up,
		traceSource:  c.trace.source,
		traceErrors:  c.trace.errors,
		traceLost:    c.trace.lost,
	}
	if c.trace.enabled {
		c.trace.expireHeld(c.cfg.now())
		k.unattributed = c.trace.held.unattributed
		k.churn = c.trace.churn.values()
	}
	return k
}

// log logs through the WithLogger logger, if any.
func (c *Collector) log(level slog.Level, msg string, args ...any) {
	if c.cfg.logger != nil {
		c.cfg.logger.Log(context.Background(), level, "tcptable metrics: "+msg, args...)
	}
}
