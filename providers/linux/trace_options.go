package linux

import (
	"strconv"
	"time"

	"github.com/tcptable/tcptable/providers/internal/option"
)

// TraceSource says where a provider's Trace gets the kernel's changes from.
type TraceSource uint8

// The trace sources, best first.
const (
	// TraceAuto picks TraceBPF where the kernel and the caller allow it,
	// TraceSockDiag otherwise. It is the default of WithTraceSource.
	TraceAuto TraceSource = iota
	// TraceBPF: BPF programs on the kernel's TCP state-change
	// tracepoint. Every change of every socket of the namespace, as the
	// kernel makes it, with owners where a process's own call made it.
	// Needs Linux 5.11+ with BTF and CAP_BPF plus CAP_PERFMON (or
	// CAP_SYS_ADMIN).
	TraceBPF
	// TraceSockDiag: the sock_diag destroy multicast groups (what ss -E
	// reads): every socket's end as the kernel destroys it, with its final
	// traffic counters, and a poll of the table for the rest. No owners
	// at the end. Needs CAP_NET_ADMIN.
	TraceSockDiag
	// TracePoll means no kernel source is usable: Trace returns an error
	// wrapping tcptable.ErrNotSupported, and a tcptable.Watch polls.
	TracePoll
)

// String returns "auto", "bpf", "sock_diag", "poll" or "TraceSource(N)".
func (s TraceSource) String() string {
	return enumName([]string{"auto", "bpf", "sock_diag", "poll"}, "TraceSource", uint8(s))
}

// traceConfig is the part of the configuration the tracer uses.
type traceConfig struct {
	source   TraceSource
	ringSize int
	noBirths bool
	diagPoll time.Duration
}

// defaultDiagPoll is how often TraceSockDiag polls the table, and
// TraceBPF the TIME-WAIT minisockets, whose ends no tracepoint reports.
const defaultDiagPoll = time.Second

// maxRingSize is the largest ring buffer WithTraceBuffer accepts.
const maxRingSize = 1 << 30

// WithTraceSource forces the source of Trace; the default is TraceAuto.
// With TraceBPF or TraceSockDiag, Trace fails with an error wrapping
// tcptable.ErrNotSupported where that source cannot be used; TracePoll
// makes it always fail so (a tcptable.Watch then polls).
func WithTraceSource(s TraceSource) Option {
	return func(c *config) error {
		if s > TracePoll {
			return option.Invalid("WithTraceSource("+s.String()+")", "unknown source")
		}
		c.trace.source = s
		return nil
	}
}

// WithTraceBuffer sets the size of the ring buffer through which the
// kernel hands events to Trace: bytes rounded up to a power of two of at
// least a page, at most 1 GiB. The default, 4 MiB, holds about 27,000
// events (152 bytes each, 8 more for the ring's header): a burst of 2,000
// connections opened and closed (a dozen events each on loopback) while
// the reader is not scheduled. When it is full, events are dropped, and
// Trace reports how many (tcptable.EventLost).
func WithTraceBuffer(bytes int) Option {
	return func(c *config) error {
		if bytes <= 0 || bytes > maxRingSize {
			return option.Invalid("WithTraceBuffer("+strconv.Itoa(bytes)+")", "want 1 byte to 1 GiB")
		}
		c.trace.ringSize = bytes
		return nil
	}
}

// WithoutBirthTimes stops New from starting the kernel recorder that gives
// Connection.Created to the sockets born while the provider is open (it
// costs about 50 ms of CPU in the background, once, and then, in the
// kernel, an allocation per socket and about 200 ns per state change of
// any socket of the namespace: 2-3 µs per loopback connection, both ends,
// with tcptable-bench -trace). Trace still starts it when first called.
func WithoutBirthTimes() Option {
	return func(c *config) error { c.trace.noBirths = true; return nil }
}

// WithTracePoll sets how often TraceSockDiag polls the table for opened
// connections and state changes, and how often TraceBPF looks for the
// TIME-WAIT minisockets that ended (the kernel traces neither); the
// default is one second.
func WithTracePoll(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return option.Invalid("WithTracePoll("+d.String()+")", "want a positive interval")
		}
		c.trace.diagPoll = d
		return nil
	}
}
