//go:build linux

package netnstest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Child is a running socket-holding child process.
type Child struct {
	// PID is the child's process ID (ip netns exec and setpriv exec in
	// place, so it is the PID that owns the sockets).
	PID int
	// SharerPID is the grandchild holding the shared listener (Spec.Share),
	// or 0.
	SharerPID int
	cmd       *exec.Cmd
	stdin     io.WriteCloser
}

// Unprivileged is the user and group ID Start's asUser=true runs as.
const Unprivileged = 65534

// Start runs exe (which must call RunChildIfRequested) inside ns as a child
// that builds spec, and waits until every socket exists. With asUser the
// child runs as nobody (exe must then be readable by it: see
// PublicExecutable). timeout bounds the wait.
func Start(ns *NS, exe string, spec Spec, asUser bool, timeout time.Duration) (*Child, error) {
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	var args []string
	if asUser {
		args = nobodyArgs("setpriv")
	}
	args = append(args, exe)
	cmd := ns.Exec(args[0], args[1:]...)
	stdin, stdout, err := StartPiped(cmd, envChild+"="+string(js))
	if err != nil {
		return nil, err
	}
	c := &Child{PID: cmd.Process.Pid, cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case s := <-line:
		f := strings.Fields(s)
		if len(f) == 2 && f[0] == "READY" {
			c.SharerPID, _ = strconv.Atoi(f[1])
			return c, nil
		}
		c.Close()
		return nil, fmt.Errorf("netnstest: child %d: %q", c.PID, s)
	case <-time.After(timeout):
		c.Close()
		return nil, fmt.Errorf("netnstest: child %d not ready after %v", c.PID, timeout)
	}
}

// Close makes the child release its sockets and exit, and waits for it.
func (c *Child) Close() error { return Stop(c.cmd, c.stdin) }

// StartPiped starts cmd (a child the test controls through its stdin, such
// as a socket holder or a re-run of the test binary in a role) with env
// added to the environment, its stderr on this process's, and pipes to
// its stdin and from its stdout. Stop ends it.
func StartPiped(cmd *exec.Cmd, env ...string) (io.WriteCloser, io.Reader, error) {
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	return stdin, stdout, nil
}

// Stop closes a child's stdin, which tells it to release everything and
// exit, and waits for it: its exit error, or, when it has not exited 30
// seconds later, an error saying so (it is then killed and reaped).
func Stop(cmd *exec.Cmd, stdin io.Closer) error {
	stdin.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("netnstest: %s does not end when its stdin closes (killed after 30s)", cmd.Path)
	}
}

// PublicExecutable copies the running executable into a new directory that
// every user may read and execute, so a child can run as nobody. The
// caller removes dir when done.
func PublicExecutable() (exe, dir string, err error) {
	self, err := os.Executable()
	if err != nil {
		return "", "", err
	}
	dir, err = os.MkdirTemp("", "netnstest-")
	if err != nil {
		return "", "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	exe = filepath.Join(dir, filepath.Base(self))
	if err := copyFile(self, exe); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return exe, dir, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
