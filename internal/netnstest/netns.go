//go:build linux

// Package netnstest builds TCP sockets inside throw-away network namespaces
// for the Linux provider's differential tests and benchmarks.
//
// A namespace is made with `ip netns add` and removed on Close. Sockets are
// held by child processes: the test binary (or benchmark command)
// re-executes itself through `ip netns exec`, and the child, dispatched by
// RunChildIfRequested from TestMain or main, builds what its Spec asks for,
// reports READY on stdout and holds everything until its stdin closes.
package netnstest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ErrUnavailable is wrapped by Available's error when this host cannot run
// namespace tests (not root, no iproute2).
var ErrUnavailable = errors.New("netnstest: network namespaces unavailable")

// Available reports, as an error wrapping ErrUnavailable, why namespaces
// cannot be used here; nil if they can.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (run the tests as root)", ErrUnavailable)
	}
	for _, tool := range []string{"ip", "ss"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s not found (apt-get install iproute2)", ErrUnavailable, tool)
		}
	}
	return nil
}

// NS is a network namespace created with `ip netns add`.
type NS struct {
	Name string // as given to ip netns
	Path string // the namespace file, /var/run/netns/NAME
}

// NewNS creates namespace name (removing a stale one of that name first)
// with its loopback interface up.
func NewNS(name string) (*NS, error) {
	_ = exec.Command("ip", "netns", "del", name).Run()
	if err := run("ip", "netns", "add", name); err != nil {
		return nil, err
	}
	ns := &NS{Name: name, Path: "/var/run/netns/" + name}
	if err := run("ip", "-n", name, "link", "set", "lo", "up"); err != nil {
		ns.Close()
		return nil, err
	}
	return ns, nil
}

// Close deletes the namespace. Sockets still open in it keep it alive
// until their holders exit.
func (ns *NS) Close() error { return run("ip", "netns", "del", ns.Name) }

// Exec returns a command that runs name with args inside the namespace.
func (ns *NS) Exec(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netnstest: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
