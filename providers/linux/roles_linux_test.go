package linux_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// envRole makes the test binary play a part in a test instead of running
// tests; see runRoleIfRequested.
const envRole = "TCPTABLE_LINUX_TEST_ROLE"

// roleExec holds the listeners it inherits as descriptors 3 and 4, says
// READY, and after a line on stdin marks 4 close-on-exec and runs
// "sleep 60" in its place (as another program holding 3).
const roleExec = "exec"

// runRoleIfRequested plays the role envRole names, if any, and exits.
func runRoleIfRequested() {
	switch role := os.Getenv(envRole); role {
	case "":
		return
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
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: no such role\n", envRole, role)
		os.Exit(2)
	}
}
