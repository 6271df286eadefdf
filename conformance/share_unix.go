//go:build unix

package conformance

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"

	"github.com/tcptable/tcptable"
)

// OSEnv shares listeners with a child process on Unix. Elsewhere a child
// cannot inherit a listener through os/exec (exec.Cmd.ExtraFiles is
// Unix-only), so OSEnv is no SharingEnv there and the SharedListener check
// skips.
var _ SharingEnv = osEnv{}

// shareHold is how long the sharing child lives if nobody stops it (the
// test binary died): long enough for any check, short enough to free the
// port eventually.
const shareHold = "300"

// Share starts a child process ("sleep") that inherits l's listening
// socket as descriptor 3, and returns its PID; stop kills and reaps it.
// Without a sleep on PATH it returns an error wrapping
// tcptable.ErrNotSupported.
func (osEnv) Share(l Listener) (uint32, func() error, error) {
	ol, ok := l.(*osListener)
	if !ok {
		return 0, nil, fmt.Errorf("conformance: Share(%T): not a listener of OSEnv: %w", l, tcptable.ErrInvalid)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return 0, nil, fmt.Errorf("conformance: no process to share %v with: %w: %w", ol.addr, err, tcptable.ErrNotSupported)
	}
	file, err := ol.ln.File()
	if err != nil {
		return 0, nil, fmt.Errorf("conformance: share %v: %w", ol.addr, err)
	}
	defer file.Close() // the child has its own copy once started
	cmd := exec.Command(sleep, shareHold)
	cmd.ExtraFiles = []*os.File{file}
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("conformance: share %v: start %s: %w", ol.addr, sleep, err)
	}
	stop := sync.OnceValue(func() error {
		if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("conformance: kill %s (PID %d) sharing %v: %w", sleep, cmd.Process.Pid, ol.addr, err)
		}
		var exit *exec.ExitError
		if err := cmd.Wait(); err != nil && !errors.As(err, &exit) {
			return fmt.Errorf("conformance: wait for %s (PID %d) sharing %v: %w", sleep, cmd.Process.Pid, ol.addr, err)
		}
		return nil
	})
	return uint32(cmd.Process.Pid), stop, nil
}
