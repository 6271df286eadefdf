package linux_test

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/linux"
)

// The trace learns two things from dumps of the table, which it makes
// beside reading the ring: the local port of an opening whose next state
// change is long to come, and the end of a TIME-WAIT minisocket.

// listenStuck listens on addr (IPv4) with an accept queue of no room and
// never accepts: connections past the first stay in SYN-SENT.
func listenStuck(addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}); err != nil {
		return err
	}
	if err := unix.Listen(fd, 0); err != nil {
		return err
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return err
	}
	fmt.Println("PORT", sa.(*unix.SockaddrInet4).Port)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return unix.Close(fd)
}

// connectMany starts n connections to addr (IPv4) without waiting for
// them, prints their local ports, and closes them at the end of its
// standard input.
func connectMany(addr string, n int) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	ports := []string{"PORTS"}
	var fds []int
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return err
		}
		fds = append(fds, fd)
		err = unix.Connect(fd, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())})
		if err != nil && err != unix.EINPROGRESS {
			return err
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return err
		}
		ports = append(ports, strconv.Itoa(sa.(*unix.SockaddrInet4).Port))
		time.Sleep(20 * time.Millisecond) // one in the queue, the rest dropped
	}
	fmt.Println(strings.Join(ports, " "))
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, fd := range fds {
		unix.Close(fd)
	}
	return nil
}

// TestTraceHeldOpening: connections that stay in SYN-SENT (their server's
// queue is full) are reported opened, with their local port and their
// process, while still in SYN-SENT: a dump finds the ports that no later
// state change brings.
func TestTraceHeldOpening(t *testing.T) {
	ns := newTraceNS(t, "tcptable-trace-g")
	_, col := startTrace(t, ns, tcptable.Query{})
	srv := startRoleIn(t, ns, "stuckserver 127.0.0.1:0")
	port, _ := strconv.Atoi(strings.TrimPrefix(srv.line(t), "PORT "))
	cl := startRoleIn(t, ns, fmt.Sprintf("synsent 127.0.0.1:%d 4", port))
	f := strings.Fields(cl.line(t))
	require.Len(t, f, 5)
	stuck := map[uint16]bool{}
	for _, p := range f[2:] { // the first may have got into the queue
		n, _ := strconv.Atoi(p)
		stuck[uint16(n)] = true
	}
	pid := cl.cmd.Process.Pid
	opened := func() int {
		n := 0
		for _, e := range col.events() {
			if e.Kind == tcptable.EventOpened && stuck[e.After.Local.Port()] && e.After.Remote.Port() == uint16(port) {
				assert.Equal(t, tcptable.StateSynSent, e.After.State, "%v", e)
				assert.Equal(t, pid, int(e.After.PID), "%v", e)
				n++
			}
		}
		return n
	}
	// SYN retransmissions change no state: nothing but a dump can give
	// the openings their ports while the client waits.
	require.Eventually(t, func() bool { return opened() == len(stuck) }, 5*time.Second, 20*time.Millisecond,
		"every stuck connection reported opened in SYN-SENT: %v", col.events())
}

// TestTraceTimeWaitEnd: the end of a TIME-WAIT minisocket (here killed
// with ss -K, as SOCK_DESTROY does) is reported by the next poll of the
// minisockets.
func TestTraceTimeWaitEnd(t *testing.T) {
	ns := newTraceNS(t, "tcptable-trace-h")
	_, col := startTrace(t, ns, tcptable.Query{}, linux.WithTracePoll(100*time.Millisecond))
	srv := startRoleIn(t, ns, "server 127.0.0.1:0")
	port, _ := strconv.Atoi(strings.TrimPrefix(srv.line(t), "PORT "))
	cl := startRoleIn(t, ns, fmt.Sprintf("client 127.0.0.1:%d 1", port))
	require.Equal(t, "DONE", cl.line(t))
	var key tcptable.Key
	require.Eventually(t, func() bool {
		for _, e := range col.events() {
			if e.Kind == tcptable.EventStateChanged && e.After.State == tcptable.StateTimeWait && e.After.Remote.Port() == uint16(port) {
				key = e.Key
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "the client's end goes to TIME-WAIT")
	// A poll or two see it alive first.
	time.Sleep(300 * time.Millisecond)
	for _, e := range col.events() {
		require.False(t, e.Kind == tcptable.EventClosed && e.Key == key, "closed while it lives: %v", e)
	}
	killed := time.Now()
	out, err := ns.Exec("ss", "-K", "state", "time-wait", "dport", "=", ":"+strconv.Itoa(port)).CombinedOutput()
	if !strings.Contains(string(out), strconv.Itoa(int(key.Local.Port()))) {
		testenv.SkipOrFail(t, "ss -K cannot end a TIME-WAIT minisocket here: %v: %s", err, out)
	}
	require.Eventually(t, func() bool {
		for _, e := range col.events() {
			if e.Kind == tcptable.EventClosed && e.Key == key {
				assert.Equal(t, tcptable.StateTimeWait, e.Before.State, "%v", e)
				assert.Equal(t, tcptable.OwnerKernel, e.Before.OwnerStatus, "%v", e)
				assert.False(t, e.Time.Before(killed.Add(-time.Millisecond)), "%v", e)
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "the end of the minisocket reported: %v", col.events())
}
