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
	// DefaultTimeout bounds a table read (WithTimeout): Prometheus' default
	// scrape timeout.
	DefaultTimeout = 10 * time.Second
)

// Option configures a Collector.
type Option func(*config)

type config struct {
	top          int
	maxListeners int
	timeout      time.Duration
	trace        bool
	stats        bool
	logger       *slog.Logger
	now          func() time.Time
}

func defaultConfig() config {
	return config{
		top:          DefaultTopProcesses,
		maxListeners: DefaultMaxListeners,
		timeout:      DefaultTimeout,
		trace:        true,
		stats:        true,
		now:          time.Now,
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
