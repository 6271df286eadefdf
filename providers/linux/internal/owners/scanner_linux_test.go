package owners

import (
	"testing"

	"golang.org/x/sys/unix"
)

// A descriptor that cannot be inspected (EACCES/EPERM, as for a process
// the caller may not ptrace) marks the scan denied, so that sockets left
// without an owner are reported as permission-denied, not not-found; a
// descriptor closed meanwhile (ENOENT) does not.
func TestScannerNotesDenied(t *testing.T) {
	for _, tc := range []struct {
		err    error
		denied bool
	}{
		{unix.EACCES, true},
		{unix.EPERM, true},
		{unix.ENOENT, false},
		{unix.ESRCH, false},
	} {
		var sc scanner
		s := fdSock{fd: 3}
		sc.set(&s, 0, false, tc.err)
		if s.fd != dropped {
			t.Errorf("%v: entry kept, want dropped", tc.err)
		}
		if sc.denied != tc.denied {
			t.Errorf("%v: denied = %v, want %v", tc.err, sc.denied, tc.denied)
		}
	}
}
