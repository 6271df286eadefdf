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

// netnsSkips counts the namespaces the last Table call of a --all-netns
// provider could not read; zero for any other provider.
func netnsSkips(p tcptable.Provider) nsSkips {
	lp, ok := p.(*linux.Provider)
	if !ok {
		return nsSkips{}
	}
	spaces := lp.NetNamespaces()
	s := nsSkips{total: len(spaces)}
	for _, n := range spaces {
		switch {
		case n.Err == nil:
		case errors.Is(n.Err, tcptable.ErrPermission):
			s.denied++
		default:
			s.other++
			if s.first == nil {
				s.first = n.Err
			}
		}
	}
	return s
}
