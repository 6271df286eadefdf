//go:build linux

package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux"
)

// netnsSupported: Linux has network namespaces.
func netnsSupported() error { return nil }

// newNSProvider makes the Linux provider of the namespace --netns names,
// or of every one with --all-netns.
func newNSProvider(n nsOptions) (tcptable.Provider, error) {
	opt := linux.WithAllNetNS()
	if !n.all {
		opt = linux.WithNetNS(n.path())
	}
	p, err := linux.New(opt)
	if err != nil {
		if !n.all && errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--netns %s: no such network namespace (ip netns list shows the names): %w", printable(n.netns), err)
		}
		return nil, err
	}
	return p, nil
}

// skippedNetNS describes in one line the namespaces the last Table call of
// a --all-netns provider could not read, "" when it read them all.
func skippedNetNS(p tcptable.Provider) string {
	lp, ok := p.(*linux.Provider)
	if !ok {
		return ""
	}
	spaces := lp.NetNamespaces()
	denied, other := 0, 0
	var first error
	for _, n := range spaces {
		switch {
		case n.Err == nil:
		case errors.Is(n.Err, tcptable.ErrPermission):
			denied++
		default:
			other++
			if first == nil {
				first = n.Err
			}
		}
	}
	if denied+other == 0 {
		return ""
	}
	s := fmt.Sprintf("read %d of %d network namespaces;", len(spaces)-denied-other, len(spaces))
	if denied > 0 {
		s += fmt.Sprintf(" %d skipped: permission denied (entering another namespace needs root or CAP_SYS_ADMIN, and only root sees every process's)", denied)
	}
	if other > 0 {
		if denied > 0 {
			s += ";"
		}
		s += fmt.Sprintf(" %d skipped: %s", other, printable(first.Error()))
	}
	return s
}
