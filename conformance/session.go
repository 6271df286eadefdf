package conformance

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/testenv"
)

// session is one subtest's world: a fresh provider, its Env and the rules
// already reported (so that a polled answer does not repeat them).
type session struct {
	t        testingT
	p        tcptable.Provider
	env      Env
	cfg      *config
	me       self
	reported map[string]bool
}

// testingT is the part of *testing.T a session uses.
type testingT interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	Name() string
}

// grace is how long past its context's end a Table call may take before
// the suite declares that it ignores its context.
func (s *session) grace() time.Duration { return s.cfg.timeout }

// answer is the outcome of one guarded call (guard): Table's rows and
// error, or Kill's error. broken, when not empty, says that the call
// panicked or did not return in time.
type answer struct {
	rows   []tcptable.Connection
	err    error
	broken string
}

// guarded runs Table(ctx, q) through guard. It does not touch s.t, so any
// goroutine may call it.
func (s *session) guarded(ctx context.Context, q tcptable.Query) answer {
	return s.guard(ctx, func() string { return "Table(" + showQuery(q) + ")" }, func() answer {
		rows, err := s.p.Table(ctx, q)
		return answer{rows: rows, err: err}
	})
}

// guard runs call, a provider call with ctx, on a separate goroutine, so
// that a provider that hangs or panics is reported (in broken, naming the
// call as what says) instead of stopping the suite. It does not touch s.t.
func (s *session) guard(ctx context.Context, what func() string, call func() answer) answer {
	ch := make(chan answer, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- answer{broken: fmt.Sprintf("%s panicked: %v\n%s", what(), r, debug.Stack())}
			}
		}()
		ch <- call()
	}()
	limit := s.cfg.timeout + s.grace()
	if dl, ok := ctx.Deadline(); ok {
		limit = max(time.Until(dl), 0) + s.grace()
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case a := <-ch:
		return a
	case <-timer.C:
		return answer{broken: fmt.Sprintf("%s did not return within %v after its context's deadline: the provider hangs or ignores its context", what(), s.grace())}
	}
}

// call is guarded for the subtest's goroutine: a broken call fails the
// subtest at once.
func (s *session) call(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	s.t.Helper()
	a := s.guarded(ctx, q)
	if a.broken != "" {
		s.t.Fatalf("%s", a.broken)
	}
	return a.rows, a.err
}

// inconsistentTries is how often table asks again when the provider says
// the table changed while it was read (tcptable.ErrInconsistent): on a
// busy host that is bad luck, not a defect, unless it persists.
const inconsistentTries = 3

// ask calls Table with the suite's timeout, guarded, and asks again while
// the provider says the table changed while it was read. It does not touch
// s.t, so any goroutine may call it; retried counts the second chances.
func (s *session) ask(q tcptable.Query) (a answer, retried int) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
		a = s.guarded(ctx, q)
		cancel()
		if !errors.Is(a.err, tcptable.ErrInconsistent) || retried == inconsistentTries-1 {
			return a, retried
		}
		retried++
	}
}

// table calls Table through ask, fails the subtest on an error, and checks
// the answer against the table-wide rules.
func (s *session) table(q tcptable.Query) []tcptable.Connection {
	s.t.Helper()
	a, retried := s.ask(q)
	if retried > 0 {
		s.t.Logf("Table(%s): asked %d more times after tcptable.ErrInconsistent", showQuery(q), retried)
	}
	if a.broken != "" {
		s.t.Fatalf("%s", a.broken)
	}
	if a.err != nil {
		s.t.Fatalf("Table(%s): %v", showQuery(q), a.err)
	}
	s.report(checkAnswer(q, a.rows, s.me, s.cfg))
	return a.rows
}

// report fails the subtest once for each problem not reported before.
func (s *session) report(list []string) {
	s.t.Helper()
	for _, msg := range list {
		if !s.reported[msg] {
			s.reported[msg] = true
			s.t.Errorf("%s", msg)
		}
	}
}

// eventually polls the unfiltered table until cond accepts it, and fails
// the subtest with cond's last complaint when the timeout passes first.
func (s *session) eventually(what string, cond func(rows []tcptable.Connection) error) []tcptable.Connection {
	s.t.Helper()
	return s.eventuallyWith(tcptable.Query{}, what, cond)
}

// eventuallyWith is eventually with the answers to q.
func (s *session) eventuallyWith(q tcptable.Query, what string, cond func(rows []tcptable.Connection) error) []tcptable.Connection {
	s.t.Helper()
	deadline := time.Now().Add(s.cfg.timeout)
	wait := 5 * time.Millisecond
	for {
		rows := s.table(q)
		err := cond(rows)
		if err == nil {
			return rows
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: still not so after %v: %v", what, s.cfg.timeout, err)
		}
		time.Sleep(wait)
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// skipUnsupported skips the subtest when err says the Env cannot offer
// what was asked (or fails it, when testenv.RequireEnv says nothing may be
// missing), and fails it on any other error.
func (s *session) skipUnsupported(op string, err error) {
	s.t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, tcptable.ErrNotSupported) {
		testenv.SkipOrFail(s.t, "Env cannot %s: %v", op, err)
		return
	}
	s.t.Fatalf("Env.%s: %v", op, err)
}
