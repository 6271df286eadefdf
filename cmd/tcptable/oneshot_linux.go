//go:build linux

package main

import (
	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux"
	"github.com/tcptable/tcptable/providers/native"
)

// newOneShotProvider is native.New for a command that reads the table
// once or kills: the Linux provider without the kernel recorder of birth
// times (app.provider says why), or, where it cannot be made, whatever
// native.New chooses.
func newOneShotProvider() (tcptable.Provider, error) {
	if p, err := linux.New(linux.WithoutBirthTimes()); err == nil {
		return p, nil
	}
	return native.New()
}
