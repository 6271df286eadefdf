// Package testenv decides what a test does when the machine it runs on
// lacks something the test needs: root, a kernel feature, network
// namespaces, the IPv6 loopback, a program such as ss, ip, setpriv or Wine.
//
// By default such a test skips, with a one-line hint saying what is missing
// and how to provide it, so that `go test ./...` works on a fresh machine
// with nothing but Go. When the environment variable TCPTABLE_REQUIRE_PRIVILEGED
// is set (to anything but "", "0" or "false"), every such skip is a failure
// instead: CI sets it, so that a green run means the tests ran, not that
// they skipped.
//
// A test that does not apply to the platform at all (a Linux-only test on
// Windows, a Wine-only test on real Windows) is not missing anything: it
// keeps calling t.Skip directly.
package testenv

import (
	"os"
	"os/exec"
	"strings"
)

// RequireEnv names the environment variable that turns skips for a missing
// requirement into failures.
const RequireEnv = "TCPTABLE_REQUIRE_PRIVILEGED"

// TB is the part of testing.TB the package uses; *testing.T, *testing.B
// and *testing.F satisfy it.
type TB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Required reports whether a missing requirement is a failure: RequireEnv
// is set to anything but "", "0" or "false" (any case). A misspelt value
// such as "yes" counts as set, so that a typo cannot quietly allow skips.
func Required() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(RequireEnv))) {
	case "", "0", "false":
		return false
	}
	return true
}

// SkipOrFail ends the test because something it needs is missing: it skips
// with the message (which should say what is missing and how to provide
// it), or fails with it when Required.
func SkipOrFail(t TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf(format+" ("+RequireEnv+" is set: a missing requirement is a failure)", args...)
		return
	}
	t.Skipf(format, args...)
}

// SkipOrFailIf calls SkipOrFail with the message and err when err is not
// nil: the usual shape of "try it, and skip with the reason if the host
// cannot".
func SkipOrFailIf(t TB, err error, what string) {
	t.Helper()
	if err != nil {
		SkipOrFail(t, "%s: %v", what, err)
	}
}

// MustBeRoot ends the test, as SkipOrFail does, unless the process runs
// as root (effective UID 0; never on Windows). why says what root is
// needed for, e.g. "to create a network namespace".
func MustBeRoot(t TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root %s (run the tests as root)", why)
	}
}

// LookPath returns the path of the program name, or ends the test, as
// SkipOrFail does, when it is not installed; hint says how to install it,
// e.g. "apt-get install iproute2".
func LookPath(t TB, name, hint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		SkipOrFail(t, "needs %s, which is not installed (%s)", name, hint)
	}
	return path
}
