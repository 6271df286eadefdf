package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tcptable/tcptable"
)

// checkCancel: a cancelled or expired context gives an error wrapping the
// context's error, and the provider still answers afterwards.
func checkCancel(s *session, _ string) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.call(ctx, tcptable.Query{}); !errors.Is(err, context.Canceled) {
		s.t.Errorf("Table with a cancelled context returned error %v, want one wrapping context.Canceled", err)
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := s.call(ctx, tcptable.Query{Class: tcptable.ClassListeners}); !errors.Is(err, context.DeadlineExceeded) {
		s.t.Errorf("Table with an expired context returned error %v, want one wrapping context.DeadlineExceeded", err)
	}
	s.table(tcptable.Query{})
}

// Concurrency of the Concurrent check: goroutines, and Table calls each.
const (
	concurrentCallers = 4
	concurrentCalls   = 5
)

// concurrentQueries are the queries the Concurrent check's callers ask in
// turn; each keeps the listener the check holds open.
var concurrentQueries = [...]tcptable.Query{
	{},
	{Class: tcptable.ClassListeners, Owners: tcptable.OwnerPIDs},
	{Family: tcptable.IPv4, Owners: tcptable.OwnerNone},
	{States: []tcptable.State{tcptable.StateListen, tcptable.StateEstablished}},
}

// checkConcurrent: Table called from several goroutines at once, while
// endpoints come and go, gives each caller a complete, valid answer (and,
// under -race, shows no data race).
func checkConcurrent(s *session, _ string) {
	ln := s.listen("tcp4")
	tp := tuple{ln.Addr(), unspecified(ln.Addr())}
	s.eventually("listener "+ln.Addr().String()+" in LISTEN", func(rows []tcptable.Connection) error {
		_, err := expect(rows, tp, tcptable.StateListen)
		return err
	})
	var (
		mu   sync.Mutex
		errs []string
		wg   sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, fmt.Sprintf(format, args...))
	}
	for g := range concurrentCallers {
		wg.Go(func() {
			for i := range concurrentCalls {
				q := concurrentQueries[(g+i)%len(concurrentQueries)]
				a, _ := s.ask(q)
				if a.broken != "" {
					fail("concurrent call: %s", a.broken)
					return
				}
				if a.err != nil {
					fail("concurrent Table(%s): %v", showQuery(q), a.err)
					return
				}
				for _, msg := range checkAnswer(q, a.rows, s.me, s.cfg) {
					fail("concurrent Table(%s): %s", showQuery(q), msg)
				}
				if _, err := expect(a.rows, tp, tcptable.StateListen); err != nil {
					fail("concurrent Table(%s): %v", showQuery(q), err)
				}
			}
		})
	}
	wg.Go(func() {
		for range concurrentCalls {
			l, err := s.env.Listen("tcp4")
			if err != nil {
				fail("Env.Listen(tcp4) during concurrent calls: %v", err)
				return
			}
			_ = l.Close()
		}
	})
	wg.Wait()
	s.report(errs)
}

// checkClose: Close is idempotent and Table after Close returns an error
// wrapping tcptable.ErrClosed.
func checkClose(s *session, _ string) {
	s.table(tcptable.Query{})
	for i := range 2 {
		if err := s.p.Close(); err != nil {
			s.t.Errorf("Close (call %d): %v", i+1, err)
		}
	}
	if _, err := s.call(context.Background(), tcptable.Query{}); !errors.Is(err, tcptable.ErrClosed) {
		s.t.Errorf("Table after Close returned error %v, want one wrapping tcptable.ErrClosed", err)
	}
}
