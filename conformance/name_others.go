//go:build !unix

package conformance

import (
	"fmt"
	"runtime"

	"github.com/tcptable/tcptable"
)

// ListenAs is not supported here: a child cannot inherit a listener
// through os/exec on this OS (exec.Cmd.ExtraFiles is Unix-only).
func (osEnv) ListenAs(string, string) (Listener, uint32, error) {
	return nil, 0, fmt.Errorf("conformance: a listener held by a named process on %s: %w", runtime.GOOS, tcptable.ErrNotSupported)
}
