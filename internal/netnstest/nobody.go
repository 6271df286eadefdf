//go:build linux

package netnstest

import (
	"os"
	"os/exec"
	"strconv"

	"github.com/tcptable/tcptable/internal/testenv"
)

// NobodyExe is a copy of the running test binary that user nobody
// (Unprivileged) may run, for tests of what an unprivileged caller sees.
type NobodyExe struct {
	Path string // the copy (see PublicExecutable)
	Dir  string // its directory, removed when the test ends
	// setpriv is the path of setpriv(1), which drops the privileges.
	setpriv string
}

// NewNobodyExe makes a NobodyExe, or ends the test as testenv.SkipOrFail
// does where setpriv is not installed.
func NewNobodyExe(t TB) *NobodyExe {
	t.Helper()
	setpriv := testenv.LookPath(t, "setpriv", "apt-get install util-linux")
	exe, dir, err := PublicExecutable()
	if err != nil {
		t.Fatalf("netnstest: a copy of the test binary for nobody: %v", err)
		return nil
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &NobodyExe{Path: exe, Dir: dir, setpriv: setpriv}
}

// Command returns a command that runs the copy with args as nobody, in
// ns (nil: in this process's namespace), with the copy's directory as its
// working directory.
func (e *NobodyExe) Command(ns *NS, args ...string) *exec.Cmd {
	argv := append(append(nobodyArgs(e.setpriv), e.Path), args...)
	var cmd *exec.Cmd
	if ns != nil {
		cmd = ns.Exec(argv[0], argv[1:]...)
	} else {
		cmd = exec.Command(argv[0], argv[1:]...)
	}
	cmd.Dir = e.Dir
	return cmd
}

// nobodyArgs is the command line of setpriv (at path) that runs what
// follows it as nobody.
func nobodyArgs(setpriv string) []string {
	id := strconv.Itoa(Unprivileged)
	return []string{setpriv, "--reuid=" + id, "--regid=" + id, "--clear-groups"}
}
