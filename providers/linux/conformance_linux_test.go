package linux_test

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/internal/tracegap"
	"github.com/tcptable/tcptable/providers/linux"
)

// newOrSkip returns a provider, skipping the test where the kernel refuses
// what the options need.
func newOrSkip(t *testing.T, opts ...linux.Option) *linux.Provider {
	t.Helper()
	p, err := linux.New(opts...)
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPROTONOSUPPORT) {
		testenv.SkipOrFail(t, "netlink sock_diag not permitted here (%v): run as root on a real kernel", err)
	}
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// noDualStack: /proc/net/tcp6 does not say whether a socket has
// IPV6_V6ONLY (sock_diag does: INET_DIAG_SKV6ONLY).
var noDualStack = conformance.DeclareGap(conformance.NoDualStack,
	"/proc/net/tcp6 does not say whether a socket has IPV6_V6ONLY (docs/linux.md)")

// traceGap declares what the trace of a provider made with opts can do
// here (tracegap.Options).
func traceGap(t *testing.T, opts ...linux.Option) []conformance.Option {
	t.Helper()
	p, err := linux.New(opts...)
	if err != nil {
		return nil // the suite's own provider will say why
	}
	defer p.Close()
	return tracegap.Options(t, p)
}

func TestConformanceNetlink(t *testing.T) {
	opts := []linux.Option{linux.WithSource(linux.SourceNetlink)}
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		return newOrSkip(t, opts...), conformance.OSEnv()
	}, traceGap(t, opts...)...)
}

// TestConformanceTraceSockDiag: the sock_diag trace source, forced as
// root too, passes the suite with its one declared gap.
func TestConformanceTraceSockDiag(t *testing.T) {
	opts := []linux.Option{linux.WithTraceSource(linux.TraceSockDiag), linux.WithTracePoll(200 * time.Millisecond)}
	p, err := linux.New(opts...)
	if err == nil {
		src, why := p.TraceSource()
		p.Close()
		if src != linux.TraceSockDiag {
			testenv.SkipOrFail(t, "the sock_diag destroy groups cannot be joined here: %v", why)
		}
	}
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		return newOrSkip(t, opts...), conformance.OSEnv()
	}, conformance.DeclareGap(conformance.NoTracedOpenings, "forced: the sock_diag source learns of openings from polls"))
}

func TestConformanceProcNet(t *testing.T) {
	opts := []linux.Option{linux.WithSource(linux.SourceProcNet)}
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		return newOrSkip(t, opts...), conformance.OSEnv()
	}, append(traceGap(t, opts...), noDualStack, conformance.DeclareGap(conformance.NoStats, "/proc/net/tcp carries no traffic counters (docs/linux.md)"))...)
}

func TestConformanceBPFScan(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		return newScanOrSkip(t, linux.OwnerScanBPF), conformance.OSEnv()
	}, traceGap(t)...)
}

func TestConformanceProcfsScan(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		return newScanOrSkip(t, linux.OwnerScanProcfs), conformance.OSEnv()
	}, traceGap(t)...)
}

// TestConformanceAllNetNS: the table of every namespace passes the suite
// (its endpoints live in the caller's namespace, among every other
// namespace's rows), statistics and kills included. A WithAllNetNS
// provider does not trace, by design (kernel events follow one namespace:
// docs/linux.md; TestAllNetNS checks that Trace says so), so the suite
// sees it as what it is, a Killer that is no Tracer: NoTrace is for a
// trace the host cannot run, which TCPTABLE_REQUIRE_PRIVILEGED fails.
func TestConformanceAllNetNS(t *testing.T) {
	type untraced struct {
		tcptable.Provider
		tcptable.Killer
	}
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p := newOrSkip(t, linux.WithAllNetNS())
		return untraced{p, p}, conformance.OSEnv()
	})
}
