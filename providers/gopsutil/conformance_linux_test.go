//go:build linux

package gopsutil_test

import (
	"testing"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/providers/gopsutil"
)

// TestConformance runs the suite against gopsutil on the real Linux kernel
// (/proc/net/tcp{,6} and /proc/PID/fd), proving the mapping end to end.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p, err := gopsutil.New()
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return p, conformance.OSEnv()
	})
}
