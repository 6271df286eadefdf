//go:build linux

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux"
)

// netnsSupported: Linux has network namespaces.
func netnsSupported() error { return nil }

// newNSProvider makes the Linux provider of the namespace --netns names,
// or of every one with --all-netns.
func newNSProvider(n nsOptions) (tcptable.Provider, error) {
	opts := []linux.Option{linux.WithAllNetNS()}
	if !n.all {
		opts[0] = linux.WithNetNS(n.path())
	}
	if n.oneShot {
		opts = append(opts, linux.WithoutBirthTimes())
	}
	p, err := linux.New(opts...)
	if err != nil {
		if !n.all {
			return nil, netnsError(n, err, os.Geteuid() == 0)
		}
		return nil, err
	}
	return p, nil
}

// netnsError turns the provider's error about the namespace --netns names
// into one line that says what was wrong with it, for a caller that is
// root or not: no such namespace, not a network namespace (and what the
// file is), or not permitted (with the hint to run as root). It wraps err.
func netnsError(n nsOptions, err error, root bool) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return err
	}
	arg := printable(n.netns)
	var msg string
	switch {
	case errors.Is(err, fs.ErrNotExist) && n.path() != n.netns:
		msg = fmt.Sprintf("--netns %s: no such network namespace: %s does not exist (ip netns list shows the names)", arg, printable(n.path()))
	case errors.Is(err, fs.ErrNotExist):
		msg = fmt.Sprintf("--netns %s: no such network namespace: no such file", arg)
	case errors.Is(err, tcptable.ErrInvalid):
		msg = fmt.Sprintf("--netns %s: %s", arg, printable(pe.Err.Error()))
	case errors.Is(err, fs.ErrPermission) && !root:
		msg = fmt.Sprintf("--netns %s: permission denied: entering another network namespace needs root (CAP_SYS_ADMIN); run tcptable as root", arg)
	case errors.Is(err, fs.ErrPermission):
		verb, _, _ := strings.Cut(pe.Op, " ") // "open" or "enter"
		msg = fmt.Sprintf("--netns %s: permission denied: even root may not %s %s here", arg, verb, printable(pe.Path))
	default:
		msg = fmt.Sprintf("--netns %s: %s", arg, printable(pe.Error()))
	}
	return messageError{msg, err}
}

// messageError is an error whose text is msg and which wraps err.
type messageError struct {
	msg string
	err error
}

func (e messageError) Error() string { return e.msg }
func (e messageError) Unwrap() error { return e.err }

// netnsSkips counts the namespaces the last Table call of a --all-netns
// provider could not read; zero for any other provider.
func netnsSkips(p tcptable.Provider) nsSkips {
	lp, ok := p.(*linux.Provider)
	if !ok {
		return nsSkips{}
	}
	return skipsOf(lp.NetNamespaces())
}

// skipsOf counts the namespaces of spaces that were not read. One that
// disappeared before it could be entered (fs.ErrNotExist) is neither read
// nor skipped: it no longer exists, and nothing of the host is missing.
func skipsOf(spaces []linux.NetNS) nsSkips {
	var s nsSkips
	for _, n := range spaces {
		switch {
		case errors.Is(n.Err, fs.ErrNotExist):
			continue
		case n.Err == nil:
		case errors.Is(n.Err, tcptable.ErrPermission):
			s.denied++
		default:
			s.other++
			if s.first == nil {
				s.first = n.Err
			}
		}
		s.total++
	}
	return s
}
