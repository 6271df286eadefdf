package metrics

import (
	"log/slog"
	"time"
)

// Defaults of the options.
const (
	// DefaultTopProcesses is how many processes have series of their own
	// (WithTopProcesses).
	DefaultTopProcesses = 10
	// DefaultMaxListeners caps tcptable_listener_info (WithMaxListeners).
	DefaultMaxListeners = 100
	// DefaultTopNetNS is how many network namespaces have
	// tcptable_netns_connections series of their own (WithTopNetNS).
	DefaultTopNetNS = 10
	// DefaultTopContainers is how many containers have
	// tcptable_container_connections series of their own
	// (WithTopContainers).
	DefaultTopContainers = 10
	// DefaultTimeout bounds a table read (WithTimeout): Prometheus' default
	// scrape timeout.
	DefaultTimeout = 10 * time.Second
)

// Option configures a Collector.
type Option func(*config)

type config struct {
	top           int
	topNetNS      int
	topContainers int
	maxListeners  int
	timeout       time.Duration
	trace         bool
	stats         bool
	logger        *slog.Logger
	now           func() time.Time
}

func defaultConfig() config {
	return config{
		top:           DefaultTopProcesses,
		topNetNS:      DefaultTopNetNS,
		topContainers: DefaultTopContainers,
		maxListeners:  DefaultMaxListeners,
		timeout:       DefaultTimeout,
		trace:         true,
		stats:         true,
		now:           time.Now,
	}
}

// WithTopProcesses sets how many processes have per-process series of
// their own; the others are summed under process="other". 0 puts every
// process in "other"; a negative n means the default,
// DefaultTopProcesses.
func WithTopProcesses(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.top = n
		}
	}
}

// WithTopNetNS sets how many network namespaces have
// tcptable_netns_connections series of their own, the busiest by rows in
// each scrape; the others are summed under netns="other". 0 exports no
// per-namespace series; a negative n means the default, DefaultTopNetNS.
// The series exist only where rows carry a namespace
// (Connection.NetNS, Linux): with one namespace, the provider's, they say
// which namespace the exporter reads; over a provider of every namespace
// (linux.WithAllNetNS) they count each one's connections.
func WithTopNetNS(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.topNetNS = n
		}
	}
}

// WithTopContainers sets how many containers have
// tcptable_container_connections series of their own, the busiest by rows
// in each scrape; the others are summed under container="other". 0
// exports no per-container series; a negative n means the default,
// DefaultTopContainers. The series exist only in scrapes where some row
// names a container (Connection.Container).
func WithTopContainers(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.topContainers = n
		}
	}
}

// WithMaxListeners caps the number of tcptable_listener_info series;
// tcptable_listeners_omitted counts the listeners left out. 0 exports none;
// a negative n means the default, DefaultMaxListeners.
func WithMaxListeners(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.maxListeners = n
		}
	}
}

// WithTimeout bounds each table read when the caller's context (see
// Collector.WithContext) has no earlier deadline. d <= 0 means the
// default, DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithoutTrace does not follow the provider's trace even when it
// implements tcptable.Tracer: no opened and closed counters.
func WithoutTrace() Option {
	return func(c *config) { c.trace = false }
}

// WithoutStats does not ask the provider for per-connection statistics
// (Query.Stats), which costs time on large tables: no byte counters.
func WithoutStats() Option {
	return func(c *config) { c.stats = false }
}

// WithLogger logs what the collector cannot put in a series: why tracing
// is not available, trace failures and retries. The default logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}
