package linux_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/internal/netnstest"
)

// envRole makes the test binary play a part in a test instead of running
// tests; see runRoleIfRequested.
const envRole = "TCPTABLE_LINUX_TEST_ROLE"

// roleExec holds the listeners it inherits as descriptors 3 and 4, says
// READY, and after a line on stdin marks 4 close-on-exec and runs
// "sleep 60" in its place (as another program holding 3).
const roleExec = "exec"

// roleForkChurn listens on 127.0.0.1 (close-on-exec, as package net
// does), prints the port, and runs "true" over and over, four at a time, until stdin
// closes: each child holds the listener between its fork and its exec.
const roleForkChurn = "forkchurn"

// roleAcceptChurn runs acceptChurn with 2,000 idle connections.
const roleAcceptChurn = "acceptchurn"

// runRoleIfRequested plays the role envRole names, if any, and exits. A
// role is a word, followed by its arguments for the trace tests' roles.
func runRoleIfRequested() {
	role := strings.Fields(os.Getenv(envRole))
	if len(role) == 0 {
		return
	}
	switch role[0] {
	case roleServer, roleClient, roleTrace, roleLazyServer, roleHold, roleStuckServer, roleSynSent:
		os.Exit(runTraceRole(role))
	case roleExec:
		fmt.Println("READY")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		sleep, err := exec.LookPath("sleep")
		if err == nil {
			unix.CloseOnExec(4)
			err = unix.Exec(sleep, []string{"sleep", "60"}, os.Environ())
		}
		fmt.Fprintln(os.Stderr, "exec role:", err)
		os.Exit(1)
	case roleAcceptChurn:
		if err := acceptChurn(500); err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		os.Exit(0)
	case roleForkChurn:
		os.Exit(forkChurn())
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: no such role\n", envRole, os.Getenv(envRole))
		os.Exit(2)
	}
}

func forkChurn() int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	defer ln.Close()
	truth, err := exec.LookPath("true")
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	var stop atomic.Bool
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop.Store(true)
	}()
	fmt.Println("READY", ln.Addr().(*net.TCPAddr).Port)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				_ = exec.Command(truth).Run()
			}
		})
	}
	wg.Wait()
	return 0
}

// startRole starts the test binary playing role, holding files as
// descriptors 3, 4, ..., and returns it, its stdin and the first line it
// printed (its READY). At the end of the test its stdin is closed and it
// is killed and reaped.
func startRole(t *testing.T, role string, files ...*os.File) (cmd *exec.Cmd, stdin io.WriteCloser, line string) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.ExtraFiles = files
	stdin, stdout, err := netnstest.StartPiped(cmd, envRole+"="+role)
	require.NoError(t, err)
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, err = bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "%s said nothing", role)
	return cmd, stdin, strings.TrimSuffix(line, "\n")
}
