package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/internal/netnstest"
)

const wantNS = " (want a name under /run/netns or a namespace file such as /proc/PID/ns/net)"

// TestNetNSBadArgument runs --netns over the Linux provider with a name
// that does not exist, paths that are no network namespace, and a
// namespace file even root may not open: each is exit 1, nothing on
// stdout and one line on stderr that says what was wrong.
func TestNetNSBadArgument(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, unix.Mkfifo(fifo, 0o600))
	missing := fmt.Sprintf("tcptable-missing-%d", os.Getpid())
	for arg, want := range map[string]string{
		missing:             "--netns " + missing + ": no such network namespace: /run/netns/" + missing + " does not exist (ip netns list shows the names)",
		dir + "/missing":    "--netns " + dir + "/missing: no such network namespace: no such file",
		file:                "--netns " + file + ": not a network namespace but a regular file" + wantNS,
		dir:                 "--netns " + dir + ": not a network namespace but a directory" + wantNS,
		fifo:                "--netns " + fifo + ": not a network namespace but a FIFO" + wantNS,
		"/proc/self/ns/mnt": "--netns /proc/self/ns/mnt: not a network namespace but a mount namespace" + wantNS,
		"bad\x1bname":       `--netns "bad\x1bname": no such network namespace: "/run/netns/bad\x1bname" does not exist (ip netns list shows the names)`,
	} {
		t.Run(filepath.Base(arg), func(t *testing.T) {
			for _, cmd := range [][]string{{"--netns", arg}, {"kill", "--netns", arg, "--port", "1"}} {
				a, stdout, stderr := testApp(nil)
				a.newNSProvider = newNSProvider
				assert.Equal(t, exitFail, a.run(context.Background(), cmd), "%q", cmd)
				assert.Empty(t, stdout.String(), "%q", cmd)
				assert.Equal(t, "tcptable: "+want+"\n", stderr.String(), "%q", cmd)
			}
		})
	}
}

// TestNetNSErrorMessages: the lines netnsError makes of the provider's
// errors, for root and for another user, wrapping the error.
func TestNetNSErrorMessages(t *testing.T) {
	open := &fs.PathError{Op: "open network namespace", Path: "/proc/1/ns/net", Err: unix.EACCES}
	enter := &fs.PathError{Op: "enter network namespace", Path: "/run/netns/blue", Err: unix.EPERM}
	odd := &fs.PathError{Op: "enter network namespace", Path: "/run/netns/blue", Err: unix.EINVAL}
	for _, tc := range []struct {
		arg  string
		err  error
		root bool
		want string
	}{
		{"/proc/1/ns/net", open, true, "--netns /proc/1/ns/net: permission denied: even root may not open /proc/1/ns/net here"},
		{"/proc/1/ns/net", open, false, "--netns /proc/1/ns/net: permission denied: entering another network namespace needs root (CAP_SYS_ADMIN); run tcptable as root"},
		{"blue", enter, false, "--netns blue: permission denied: entering another network namespace needs root (CAP_SYS_ADMIN); run tcptable as root"},
		{"blue", odd, true, "--netns blue: enter network namespace /run/netns/blue: invalid argument"},
	} {
		err := netnsError(nsOptions{netns: tc.arg}, fmt.Errorf("tcptable/linux: New: %w", tc.err), tc.root)
		assert.EqualError(t, err, tc.want)
		assert.True(t, errors.Is(err, tc.err.(*fs.PathError).Err), "%v wraps the errno", err)
	}
	plain := errors.New("no PathError")
	assert.Same(t, plain, netnsError(nsOptions{netns: "x"}, plain, true), "other errors pass unchanged")
}

// TestNetNSUnprivileged runs "tcptable --netns NAME" as nobody on a
// namespace this test makes: exit 1, and the one line says to run as root.
func TestNetNSUnprivileged(t *testing.T) {
	nobody := netnstest.NewNobodyExe(t)
	ns := netnstest.NewForTest(t, "tcptable-cli-unpriv")
	for _, arg := range []string{ns.Name, ns.Path} {
		cmd := nobody.Command(nil, "-test.run=^TestChildRun$")
		cmd.Env = append(os.Environ(), childArgsEnv+"=--netns "+arg+" -l")
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "stderr: %s", errOut.String())
		assert.Equal(t, exitFail, ee.ExitCode())
		assert.Empty(t, out.String())
		assert.Equal(t, "tcptable: --netns "+arg+": permission denied: entering another network namespace needs root (CAP_SYS_ADMIN); run tcptable as root\n",
			errOut.String())
	}
}
