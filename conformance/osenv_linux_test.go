package conformance_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/internal/testenv"
)

// noIPv6ChildEnv tells TestOSEnvWithoutIPv6Loopback that it runs inside
// the network namespace it made.
const noIPv6ChildEnv = "TCPTABLE_CONFORMANCE_NO_IPV6_CHILD"

// TestOSEnvWithoutIPv6Loopback runs itself again in a fresh network
// namespace whose loopback has IPv6 disabled, and checks there that OSEnv
// reports "tcp6" as not supported (so the suite skips it with the reason)
// while "tcp4" works.
func TestOSEnvWithoutIPv6Loopback(t *testing.T) {
	if os.Getenv(noIPv6ChildEnv) == "1" {
		checkNoIPv6(t)
		return
	}
	testenv.MustBeRoot(t, "to create a network namespace")
	testenv.LookPath(t, "ip", "apt-get install iproute2")
	ns := fmt.Sprintf("tcptable-conformance-%d", os.Getpid())
	ip := func(args ...string) {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), "ip", args...).CombinedOutput()
		require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
	}
	ip("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	ip("-n", ns, "link", "set", "lo", "up")
	ip("netns", "exec", ns, "sh", "-c", "test ! -e /proc/sys/net/ipv6 || echo 1 > /proc/sys/net/ipv6/conf/lo/disable_ipv6")

	cmd := exec.CommandContext(t.Context(), "ip", "netns", "exec", ns, os.Args[0],
		"-test.run=^TestOSEnvWithoutIPv6Loopback$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), noIPv6ChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child in %s:\n%s", ns, out)
	assert.Contains(t, string(out), "--- PASS: TestOSEnvWithoutIPv6Loopback")
	t.Logf("child in %s:\n%s", ns, out)
}

// checkNoIPv6 is the child's half.
func checkNoIPv6(t *testing.T) {
	env := conformance.OSEnv()
	_, err := env.Listen("tcp6")
	require.ErrorIs(t, err, tcptable.ErrNotSupported)
	assert.Contains(t, err.Error(), "no IPv6 loopback")
	t.Logf("tcp6 without ::1: %v", err)
	_, err = env.Dial("tcp6")
	require.ErrorIs(t, err, tcptable.ErrNotSupported)

	ln, err := env.Listen("tcp4")
	require.NoError(t, err, "IPv4 still works")
	require.NoError(t, ln.Close())
}
