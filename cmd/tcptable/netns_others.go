//go:build !linux

package main

import (
	"fmt"
	"runtime"

	"github.com/tcptable/tcptable"
)

// netnsSupported refuses the namespace flags: network namespaces are
// Linux's.
func netnsSupported() error {
	return notSupportedError{fmt.Errorf("--netns and --all-netns: network namespaces exist on Linux only, not on %s: %w",
		runtime.GOOS, tcptable.ErrNotSupported)}
}

// newNSProvider returns netnsSupported's error.
func newNSProvider(nsOptions) (tcptable.Provider, error) { return nil, netnsSupported() }

// netnsSkips returns zero: no namespaces here.
func netnsSkips(tcptable.Provider) nsSkips { return nsSkips{} }
