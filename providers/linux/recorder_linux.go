package linux

import (
	"context"
	"fmt"
	"sync"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux/internal/events"
	"github.com/tcptable/tcptable/providers/linux/internal/fditer"
)

// recorder is the provider's kernel recorder (package events), loaded in
// the background by New so that a short-lived provider does not wait for
// it, and used by Table (birth times) and Trace (events).
type recorder struct {
	opts    events.Options
	once    sync.Once
	done    chan struct{} // closed when loading ended
	mu      sync.Mutex
	closed  bool
	started bool // start ran: done will be closed
	rec     *events.Recorder
	err     error // why there is no recorder
	hub     *hub
}

func newRecorder(o events.Options) *recorder {
	return &recorder{opts: o, done: make(chan struct{})}
}

// start loads the recorder in the background, once.
func (r *recorder) start() {
	r.once.Do(func() {
		r.mu.Lock()
		r.started = true
		r.mu.Unlock()
		go func() {
			rec, err := events.Open(r.opts)
			r.mu.Lock()
			if r.closed && rec != nil {
				rec.Close()
				rec, err = nil, tcptable.ErrClosed
			}
			r.rec, r.err = rec, err
			r.mu.Unlock()
			close(r.done)
		}()
	})
}

// ready returns the recorder if it has loaded, without waiting.
func (r *recorder) ready() *events.Recorder {
	select {
	case <-r.done:
		return r.rec
	default:
		return nil
	}
}

// wait starts the recorder if needed and waits until it has loaded.
func (r *recorder) wait(ctx context.Context) (*events.Recorder, error) {
	r.start()
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.rec, nil
}

// close detaches the programs. A load still running is waited for (it
// closes what it loaded when it sees the recorder closed), so that nothing
// of the provider outlives Close.
func (r *recorder) close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	started := r.started
	r.mu.Unlock()
	if started {
		<-r.done
	}
	r.mu.Lock()
	rec, h := r.rec, r.hub
	r.mu.Unlock()
	if h != nil {
		h.shutdown()
	}
	if rec != nil {
		return rec.Close()
	}
	return nil
}

// bpfAllowed reports why the BPF recorder cannot run for this
// configuration, or nil.
func bpfAllowed(cfg *config) error {
	switch cfg.trace.source {
	case TraceSockDiag, TracePoll:
		return fmt.Errorf("trace source %v chosen", cfg.trace.source)
	}
	return fditer.BPFCapable()
}

// birthTimes returns, if the recorder has loaded, the descriptor of its
// socket storage map of birth times (for the table dump to report), the
// births of the TIME-WAIT minisockets' connections (synced now), and the
// clock to convert them; storage is -1 and tw nil otherwise, and while
// the recorder has recorded no birth. Table calls it under p.mu.
func (r *recorder) birthTimes() (storage int, tw *events.TimeWaitBirths, clock events.Clock) {
	rec := r.ready()
	if rec == nil || !rec.BornAny() {
		// No birth yet: sock_diag would look for one in every socket.
		return -1, nil, events.Clock{}
	}
	tw = rec.TimeWaitBirths()
	tw.Sync()
	return rec.BirthStorageFD(), tw, rec.Clock()
}
