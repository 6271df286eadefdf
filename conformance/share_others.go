//go:build !unix

package conformance

import (
	"fmt"
	"runtime"

	"github.com/tcptable/tcptable"
)

// Share is not supported here: a child cannot inherit a listener through
// os/exec on this OS (exec.Cmd.ExtraFiles is Unix-only).
func (osEnv) Share(Listener) (uint32, func() error, error) {
	return 0, nil, fmt.Errorf("conformance: sharing a listener with a child process on %s: %w", runtime.GOOS, tcptable.ErrNotSupported)
}
