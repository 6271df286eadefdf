package tcptable

import "context"

// ReadyTracer is a Tracer that says when a trace has started and which
// source it reads. A Watcher that follows a trace takes its baseline
// snapshot only once the trace is live, so that no change can fall between
// the snapshot and the first traced event; with a plain Tracer it cannot
// know when that is, and takes a second snapshot one interval later to
// report what it may have missed (see Watcher).
//
// The Linux provider implements it, and so does the mock.
type ReadyTracer interface {
	Tracer
	// TraceReady is Trace that calls ready once, before fn's first call,
	// as soon as every later change to a row that q matches will be
	// reported. source names where the events come from, in lower case:
	// "bpf", "sock_diag", "mock". When the trace cannot start, TraceReady
	// returns the error, as Trace does, without calling ready. A nil ready
	// is not called, so that Trace can be TraceReady(ctx, q, nil, fn).
	TraceReady(ctx context.Context, q Query, ready func(source string), fn func(Event) error) error
}

// WatchSource says where a Watcher's events come from: a trace (the OS
// reports each change as it makes it) or polling (Diff between snapshots).
type WatchSource struct {
	// Traced reports whether the events come from the provider's Trace.
	Traced bool
	// Name names the source: what a ReadyTracer said ("bpf", "mock"),
	// "trace" for another Tracer, "poll" when polling.
	Name string
	// Reason says, when polling, why the Watcher does not trace: the
	// provider is no Tracer, tracing was turned off (WithoutTrace), or the
	// error Trace returned. It is empty when tracing.
	Reason string
}

// String returns "trace (NAME)" or "poll (REASON)", or "none" before the
// Watcher has chosen.
func (s WatchSource) String() string {
	switch {
	case s.Traced:
		return "trace (" + s.Name + ")"
	case s.Name == "":
		return "none"
	case s.Reason == "":
		return s.Name
	}
	return s.Name + " (" + s.Reason + ")"
}

// The names WatchSource.Name takes besides those a ReadyTracer gives.
const (
	sourcePoll  = "poll"
	sourceTrace = "trace"
)
