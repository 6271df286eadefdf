//go:build !linux

package main

import (
	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/native"
)

// newOneShotProvider is native.New: only the Linux provider records birth
// times, which a one-shot command does without.
func newOneShotProvider() (tcptable.Provider, error) { return native.New() }
