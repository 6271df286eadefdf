// Package nativetest gives tests this OS's native provider
// (native.New), or skips them where the OS has none.
//
// An OS without a native provider is not missing a requirement the way a
// machine without root is (see internal/testenv): the test does not apply
// there, so it skips even when TCPTABLE_REQUIRE_PRIVILEGED is set. Any
// other error from native.New fails the test.
package nativetest

import (
	"errors"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/native"
)

// New returns the native provider, closed when the test ends, or skips
// the test where there is none; covered says what covers the test's
// checks there instead (e.g. "the command is covered against the mock").
func New(t testing.TB, covered string) tcptable.Provider {
	t.Helper()
	p := open(t, covered)
	t.Cleanup(func() { assert.NoError(t, p.Close(), "closing the native provider") })
	return p
}

// Skip skips the test as New does where there is no native provider, and
// otherwise closes the one it opened at once: for tests that run the
// native provider some other way (a command, a child process).
func Skip(t testing.TB, covered string) {
	t.Helper()
	require.NoError(t, open(t, covered).Close(), "closing the native provider")
}

// open is native.New, skipping where there is none and failing on any
// other error.
func open(t testing.TB, covered string) tcptable.Provider {
	t.Helper()
	p, err := native.New()
	if errors.Is(err, tcptable.ErrNotSupported) {
		t.Skipf("no native provider on %s (%v); %s", runtime.GOOS, err, covered)
	}
	require.NoError(t, err, "native.New")
	return p
}
