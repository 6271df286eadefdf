package main

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/tcptable/tcptable"
)

// nsOptions are the network namespace flags, which need the Linux
// provider (netns_linux.go builds it; netns_others.go refuses them).
type nsOptions struct {
	netns string // --netns NAME|PATH: one namespace
	all   bool   // --all-netns: every namespace
	// oneShot: the command reads the table once (or kills), so the
	// provider need not record birth times (oneShot in provider).
	oneShot bool
}

// set reports whether a namespace flag was given.
func (n nsOptions) set() bool { return n.netns != "" || n.all }

// check rejects namespace flags that exclude each other (exit 2, like any
// bad command line). An OS without network namespaces refuses them when
// the provider is made (notSupportedError, exit 2 too).
func (n nsOptions) check() error {
	switch {
	case n.netns != "" && n.all:
		return usagef("--netns and --all-netns exclude each other")
	case n.netns == "." || n.netns == "..":
		return usagef("bad --netns %q: want a name under %s or the path of a namespace file", n.netns, netnsRunDir)
	}
	return nil
}

// notSupportedError is a flag this OS cannot honour: the command line is
// bad here (exit 2), and the error wraps tcptable.ErrNotSupported.
type notSupportedError struct{ err error }

func (e notSupportedError) Error() string { return e.err.Error() }
func (e notSupportedError) Unwrap() error { return e.err }

// providerExit is the exit code when the provider cannot be made: 2 for a
// flag this OS cannot honour, else 1.
func providerExit(err error) int {
	if errors.As(err, new(notSupportedError)) {
		return exitUsage
	}
	return exitFail
}

// netnsRunDir is where `ip netns` keeps the namespaces it names.
const netnsRunDir = "/run/netns"

// path is the namespace file --netns names: the argument itself when it
// holds a '/' (/proc/PID/ns/net, /var/run/netns/blue, ./ns), else the name
// under /run/netns.
func (n nsOptions) path() string {
	if strings.ContainsRune(n.netns, '/') {
		return n.netns
	}
	return path.Join(netnsRunDir, n.netns) // a Linux path on every OS
}

// provider makes the provider for the command line: the OS's own, or the
// Linux provider of one or every namespace. oneShot says that the command
// reads the table once or kills (not --watch, --top or serve): on Linux
// such a provider does not start the kernel recorder of birth times
// (linux.WithoutBirthTimes), which would record nothing in the
// milliseconds before the one read (only sockets born after it loads get
// Created) and costs the run about 70 ms, as Close waits for it to load
// (docs/cli.md).
func (a *app) provider(o *options, oneShot bool) (tcptable.Provider, error) {
	if o.ns.set() {
		n := o.ns
		n.oneShot = oneShot
		return a.newNSProvider(n)
	}
	if oneShot && a.newOneShotProvider != nil {
		return a.newOneShotProvider()
	}
	return a.newProvider()
}

// netnsCell is the NETNS column: the namespace's name, else its inode,
// "-" when unknown.
func netnsCell(c *tcptable.Connection) string {
	switch {
	case c.NetNSName != "":
		return printable(c.NetNSName)
	case c.NetNS != 0:
		return strconv.FormatUint(c.NetNS, 10)
	}
	return "-"
}

// containerCell is the CONTAINER column: a container ID shortened to 12
// digits as docker ps and crictl ps print it, a Kubernetes pod as "pod"
// and the first 8 digits of its UID, "-" for none.
func containerCell(c *tcptable.Connection) string {
	id := c.Container
	switch {
	case id == "":
		return "-"
	case strings.HasPrefix(id, "pod") && len(id) > 11:
		id = id[:11]
	case len(id) > 12:
		id = id[:12]
	}
	return printable(id)
}

// hasContainers reports whether some row names a container.
func hasContainers(rows []tcptable.Connection) bool {
	for i := range rows {
		if rows[i].Container != "" {
			return true
		}
	}
	return false
}

// noteSkippedNetNS says on stderr, in one line, which namespaces a
// --all-netns table could not read, and why.
func (a *app) noteSkippedNetNS(p filtered) {
	if s := netnsSkips(p.filter().p).String(); s != "" {
		a.errorf("%s", s)
	}
}

// nsSkips counts the namespaces a --all-netns table could not read
// (netnsSkips): of total, denied for want of privilege, other for another
// reason, the first of which is first.
type nsSkips struct {
	total, denied, other int
	first                error
}

// String describes s in one line, "" when every namespace was read.
func (s nsSkips) String() string {
	if s.denied+s.other == 0 {
		return ""
	}
	line := fmt.Sprintf("read %d of %d network namespaces;", s.total-s.denied-s.other, s.total)
	if s.denied > 0 {
		line += fmt.Sprintf(" %d skipped: permission denied (entering another namespace needs root or CAP_SYS_ADMIN, and only root sees every process's)", s.denied)
	}
	if s.other > 0 {
		if s.denied > 0 {
			line += ";"
		}
		line += fmt.Sprintf(" %d skipped: %s", s.other, printable(s.first.Error()))
	}
	return line
}
