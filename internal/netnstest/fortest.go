//go:build linux

package netnstest

import (
	"fmt"
	"os"

	"github.com/tcptable/tcptable/internal/testenv"
)

// TB is the part of testing.TB that NewForTest uses; *testing.T and
// *testing.B satisfy it.
type TB interface {
	testenv.TB
	Cleanup(func())
	Errorf(format string, args ...any)
}

// NewForTest creates namespace prefix-PID for a test, removed when the
// test ends (after the cleanups registered later, such as those of the
// children holding its sockets), or ends the test as testenv.SkipOrFail
// does where namespaces cannot be used or made here.
func NewForTest(t TB, prefix string) *NS {
	t.Helper()
	if err := Available(); err != nil {
		testenv.SkipOrFail(t, "%v", err)
		return nil
	}
	ns, err := NewNS(fmt.Sprintf("%s-%d", prefix, os.Getpid()))
	if err != nil {
		testenv.SkipOrFail(t, "cannot create a network namespace here (needs CAP_SYS_ADMIN and a writable /run/netns): %v", err)
		return nil
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Errorf("removing network namespace %s: %v", ns.Name, err)
		}
	})
	return ns
}
