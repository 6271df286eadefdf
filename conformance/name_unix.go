//go:build unix

package conformance

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tcptable/tcptable"
)

// osEnv starts processes with the names the suite asks for, on Unix.
var _ NamingEnv = osEnv{}

// ListenAs copies "sleep" to a new temporary directory under the base
// name name, runs it holding a new listener on network's loopback address
// as descriptor 3 (this process closes its own), and returns the listener,
// whose Close kills and reaps the process and removes the directory.
// Without a sleep on PATH it returns an error wrapping
// tcptable.ErrNotSupported.
func (osEnv) ListenAs(network, name string) (Listener, uint32, error) {
	if name == "" || strings.ContainsRune(name, '/') || name == "." || name == ".." {
		return nil, 0, fmt.Errorf("conformance: ListenAs(%q): not a file name: %w", name, tcptable.ErrInvalid)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return nil, 0, fmt.Errorf("conformance: no program to run as %q: %w: %w", name, err, tcptable.ErrNotSupported)
	}
	dir, err := os.MkdirTemp("", "tcptable-conformance-")
	if err != nil {
		return nil, 0, fmt.Errorf("conformance: ListenAs: %w", err)
	}
	exe := filepath.Join(dir, name)
	if err := copyExecutable(sleep, exe); err != nil {
		os.RemoveAll(dir)
		return nil, 0, fmt.Errorf("conformance: ListenAs: copy %s to %s: %w", sleep, exe, err)
	}
	ln, err := listenGood(network)
	if err != nil {
		os.RemoveAll(dir)
		return nil, 0, err
	}
	defer ln.ln.Close() // the child holds it alone
	file, err := ln.ln.File()
	if err != nil {
		os.RemoveAll(dir)
		return nil, 0, fmt.Errorf("conformance: ListenAs: %w", err)
	}
	defer file.Close()
	cmd, err := startNamed(exe, file)
	if err != nil {
		os.RemoveAll(dir)
		return nil, 0, fmt.Errorf("conformance: ListenAs: start %s: %w", exe, err)
	}
	stop := sync.OnceValue(func() error {
		defer os.RemoveAll(dir)
		if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("conformance: kill %s (PID %d): %w", exe, cmd.Process.Pid, err)
		}
		var exit *exec.ExitError
		if err := cmd.Wait(); err != nil && !errors.As(err, &exit) {
			return fmt.Errorf("conformance: wait for %s (PID %d): %w", exe, cmd.Process.Pid, err)
		}
		return nil
	})
	return &namedListener{addr: ln.addr, stop: stop}, uint32(cmd.Process.Pid), nil
}

// startNamed runs exe holding file as descriptor 3, trying again while
// the kernel says the new executable is busy: a process another goroutine
// forked while the copy was open for writing holds it until it execs.
func startNamed(exe string, file *os.File) (*exec.Cmd, error) {
	for try := 0; ; try++ {
		cmd := exec.Command(exe, shareHold)
		cmd.ExtraFiles = []*os.File{file}
		err := cmd.Start()
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || try == 50 {
			return cmd, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// copyExecutable copies the program src to dst, executable by its owner.
func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// namedListener is a listener a named child process holds.
type namedListener struct {
	addr netip.AddrPort
	stop func() error
}

// Addr returns the listener's address.
func (l *namedListener) Addr() netip.AddrPort { return l.addr }

// Close stops the process holding the listener; it is idempotent.
func (l *namedListener) Close() error { return l.stop() }
