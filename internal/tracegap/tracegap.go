// Package tracegap tells the conformance suite what the Linux provider's
// Trace can do on the host the tests run on, so that every test that runs
// the suite on that provider declares the same gaps for the same reasons.
package tracegap

import (
	"fmt"

	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/linux"
)

// TB is the part of testing.TB Options uses.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Options returns the gaps p's Trace declares here: none with the BPF
// source; NoTracedOpenings with the sock_diag source (the fallback
// without privilege, which learns of openings from polls); NoTrace
// without either. Where testenv.Required, a fallback fails t: CI must run
// the BPF source.
func Options(t TB, p *linux.Provider) []conformance.Option {
	t.Helper()
	src, why := p.TraceSource()
	if src == linux.TraceBPF {
		return nil
	}
	if testenv.Required() {
		t.Fatalf("the trace falls back to %v (%v) (%s is set: the BPF source must run)", src, why, testenv.RequireEnv)
	}
	if src == linux.TraceSockDiag {
		t.Logf("no BPF trace here (%v): the suite checks the sock_diag fallback", why)
		return []conformance.Option{conformance.DeclareGap(conformance.NoTracedOpenings,
			"the sock_diag trace source sees every end but learns of openings from polls (docs/linux.md)")}
	}
	return []conformance.Option{conformance.DeclareGap(conformance.NoTrace, fmt.Sprintf("no trace source here: %v", why))}
}
