package conformance

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Gap names something a provider cannot do on its platform. Declaring a gap
// (with DeclareGap) relaxes exactly the checks that need it; the suite logs
// every declared gap with its reason so nothing is skipped silently.
type Gap uint8

// The gaps a provider may declare.
const (
	// NoListenerPID: listeners are reported with PID 0.
	NoListenerPID Gap = iota + 1
	// NoAcceptedPID: the accepted (server) end of a pair has PID 0.
	NoAcceptedPID
	// NoDialerPID: the dialing (client) end of a pair has PID 0.
	NoDialerPID
	// NoIPv6PID: IPv6 rows have PID 0.
	NoIPv6PID
	// NoModule: module names are not resolved for the caller's own rows.
	NoModule
	// NoTimeWait: TIME-WAIT rows are not reported (tools such as lsof list
	// only sockets a process holds). The TimeWait check then accepts a
	// missing row; a TIME-WAIT row that is reported must still be right.
	NoTimeWait
	// NoOtherPIDs: a socket several processes hold is reported with only
	// one of them (no OtherPIDs). The SharedListener check then accepts
	// either holder alone.
	NoOtherPIDs
	// NoTrace: the provider implements tcptable.Tracer, but Trace returns
	// an error wrapping tcptable.ErrNotSupported here (no privilege, an
	// old kernel). The Trace check then skips with that error; a trace
	// that does start is checked in full. (A provider that is no Tracer
	// needs no declaration: the check skips and says so.)
	NoTrace
	// NoDualStack: the provider does not report Connection.DualStack (the
	// OS does not say whether an IPv6 socket on :: accepts IPv4). The
	// DualStack check then accepts a dual-stack listener reported with
	// DualStack false, which IPv4 queries then do not match; a row that
	// says DualStack must still be right.
	NoDualStack
	// NoLongName: a process name longer than the OS keeps (15 bytes on
	// Linux) is reported cut. The LongName check then accepts a non-empty
	// start of the name (and a Query.Process of the whole name is not
	// checked).
	NoLongName
	// NoStats: the provider cannot read per-connection statistics
	// (Query.Stats): rows have nil Stats with a StatsStatus that says why.
	// The Stats check then checks only that.
	NoStats
	// NoKill: the provider implements tcptable.Killer, but cannot end the
	// suite's connections here (an OS without an API for it, an emulator
	// whose API does nothing, a kernel without the feature). The Kill
	// check then skips without calling Kill. A Kill that returns an error
	// wrapping tcptable.ErrNotSupported declares the gap itself: the check
	// skips and logs the error. (A provider that is no Killer needs no
	// declaration either: the check skips and says so.)
	NoKill
	// NoTracedOpenings: the provider's Trace sees connections end as the
	// OS ends them but learns of openings only from polls of the table (a
	// fallback source without kernel events of the openings, such as the
	// Linux provider's sock_diag source without BPF). A connection that
	// opens and ends between two polls is reported opened only at its end
	// (opened and closed together, or opened in TIME-WAIT), without an
	// owner. The Trace check then still requires every end of the dialed
	// pair opened and then ended, in an order Diff could report, but no
	// owner for them and accepts the dialing end opened in TIME-WAIT as
	// its end; the listener, which lives across polls, is checked in
	// full.
	NoTracedOpenings
)

var gapNames = [...]string{
	NoListenerPID: "no-listener-pid",
	NoAcceptedPID: "no-accepted-pid",
	NoDialerPID:   "no-dialer-pid",
	NoIPv6PID:     "no-ipv6-pid",
	NoModule:      "no-module",
	NoTimeWait:    "no-time-wait",
	NoOtherPIDs:   "no-other-pids",
	NoTrace:       "no-trace",
	NoDualStack:   "no-dual-stack",
	NoLongName:    "no-long-name",
	NoStats:       "no-stats",
	NoKill:        "no-kill",

	NoTracedOpenings: "no-traced-openings",
}

// String returns the gap's name, e.g. "no-listener-pid".
func (g Gap) String() string {
	if int(g) < len(gapNames) && gapNames[g] != "" {
		return gapNames[g]
	}
	return "Gap(" + strconv.Itoa(int(g)) + ")"
}

// Option configures Run.
type Option func(*config)

type config struct {
	gaps    map[Gap]string
	timeout time.Duration
}

// DeclareGap tells Run that the provider cannot do g, for the given reason
// (which must not be empty). The suite relaxes the checks that need g and
// logs the gap and reason in every run.
func DeclareGap(g Gap, reason string) Option {
	return func(c *config) {
		if c.gaps == nil {
			c.gaps = map[Gap]string{}
		}
		c.gaps[g] = reason
	}
}

// WithTimeout sets how long the suite polls for the OS to show (or drop) an
// endpoint before failing, and how long one Table call may take; the
// default is 10 seconds, or what TimeoutEnv says. A subtest that runs longer than ten times this
// (a provider or Env that hangs) is stopped by the watchdog with a panic
// that names it.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// defaultTimeout is WithTimeout's default.
const defaultTimeout = 10 * time.Second

// TimeoutEnv names the environment variable that replaces WithTimeout's
// default, e.g. TCPTABLE_CONFORMANCE_TIMEOUT=1m, for a loaded CI host; a
// WithTimeout option still wins over it.
const TimeoutEnv = "TCPTABLE_CONFORMANCE_TIMEOUT"

// newConfig applies opts to the defaults and reports options that make no
// sense.
func newConfig(opts []Option) (*config, error) {
	c := &config{timeout: defaultTimeout}
	if v := os.Getenv(TimeoutEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("conformance: %s=%q: want a positive duration such as 1m", TimeoutEnv, v)
		}
		c.timeout = d
	}
	for _, o := range opts {
		o(c)
	}
	if c.timeout <= 0 {
		return nil, fmt.Errorf("conformance: WithTimeout(%v): the timeout must be positive", c.timeout)
	}
	for g, reason := range c.gaps {
		if int(g) >= len(gapNames) || gapNames[g] == "" {
			return nil, fmt.Errorf("conformance: DeclareGap(%v): not a known gap", g)
		}
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("conformance: DeclareGap(%v): the reason must not be empty", g)
		}
	}
	return c, nil
}

// has reports whether gap g was declared.
func (c *config) has(g Gap) bool {
	_, ok := c.gaps[g]
	return ok
}

// watchdog is how long one subtest may run before it is stopped.
func (c *config) watchdog() time.Duration { return 10 * c.timeout }

// gapList returns the declared gaps in a stable order.
func (c *config) gapList() []Gap {
	gs := make([]Gap, 0, len(c.gaps))
	for g := range c.gaps {
		gs = append(gs, g)
	}
	slices.Sort(gs)
	return gs
}
