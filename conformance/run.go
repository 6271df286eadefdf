package conformance

import (
	"fmt"
	"testing"
	"time"
)

// check is one subtest of the suite. perNetwork checks run once for "tcp4"
// and once for "tcp6".
type check struct {
	name       string
	perNetwork bool
	fn         func(s *session, network string)
}

// networks are the networks the per-network checks run on.
var networks = [...]string{"tcp4", "tcp6"}

// checks lists the suite's subtests in the order they run.
var checks = [...]check{
	{"Listener", true, checkListener},
	{"Pair", true, checkPair},
	{"HalfClose", true, checkHalfClose},
	{"TimeWait", true, checkTimeWait},
	{"Stats", true, checkStats},
	{"SharedListener", false, checkSharedListener},
	{"DualStack", false, checkDualStack},
	{"LongName", false, checkLongName},
	{"Trace", true, checkTrace},
	{"Kill", true, checkKill},
	{"Filters", false, checkFilters},
	{"Owners", false, checkOwners},
	{"InvalidQuery", false, checkInvalidQuery},
	{"Cancel", false, checkCancel},
	{"Concurrent", false, checkConcurrent},
	{"Close", false, checkClose},
}

// Run runs the conformance suite: one subtest per check, each with a fresh
// provider and Env from mk. It logs every gap declared with DeclareGap
// before it starts, and fails t if an option is invalid.
//
// Run is meant to be run under the race detector (go test -race). See the
// package documentation for what it checks.
func Run(t *testing.T, mk MakeProvider, opts ...Option) {
	t.Helper()
	cfg, err := newConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range cfg.gapList() {
		t.Logf("conformance: declared gap %v: %s", g, cfg.gaps[g])
	}
	for _, c := range checks {
		if !c.perNetwork {
			t.Run(c.name, func(t *testing.T) { c.fn(newSession(t, mk, cfg), "") })
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			for _, nw := range networks {
				t.Run(nw, func(t *testing.T) { c.fn(newSession(t, mk, cfg), nw) })
			}
		})
	}
}

// newSession starts a subtest: it arms the watchdog, makes the provider
// and Env, and arranges for the provider to be closed at the end.
func newSession(t *testing.T, mk MakeProvider, cfg *config) *session {
	t.Helper()
	name, limit := t.Name(), cfg.watchdog()
	start := time.Now()
	dog := time.AfterFunc(limit, func() {
		panic(fmt.Sprintf("conformance: watchdog: subtest %s still running after %v (started %v): the provider or Env hangs",
			name, limit, start.Format(time.TimeOnly)))
	})
	t.Cleanup(func() { dog.Stop() })
	p, env := mk(t)
	if p == nil || env == nil {
		t.Fatalf("MakeProvider returned provider %v and Env %v; both are required", p, env)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close at the end of the subtest: %v", err)
		}
	})
	return &session{t: t, p: p, env: env, cfg: cfg, me: newSelf(), reported: map[string]bool{}}
}
