package linux_test

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/providers/linux"
)

// newOrSkip returns a provider, skipping the test where the kernel refuses
// what the options need.
func newOrSkip(t *testing.T, opts ...linux.Option) *linux.Provider {
	t.Helper()
	p, err := linux.New(opts...)
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPROTONOSUPPORT) {
		t.Skipf("netlink sock_diag not permitted here (%v): run as root on a real kernel", err)
	}
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestConformanceNetlink(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		return newOrSkip(t, linux.WithSource(linux.SourceNetlink)), conformance.OSEnv()
	})
}

func TestConformanceProcNet(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		return newOrSkip(t, linux.WithSource(linux.SourceProcNet)), conformance.OSEnv()
	})
}

func TestConformanceBPFScan(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		return newScanOrSkip(t, linux.OwnerScanBPF), conformance.OSEnv()
	})
}

func TestConformanceProcfsScan(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		return newScanOrSkip(t, linux.OwnerScanProcfs), conformance.OSEnv()
	})
}

// TestConformanceAllNetNS: the table of every namespace passes the suite
// (its endpoints live in the caller's namespace, among every other
// namespace's rows).
func TestConformanceAllNetNS(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		return newOrSkip(t, linux.WithAllNetNS()), conformance.OSEnv()
	})
}
