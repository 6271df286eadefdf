package linux_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/linux"
)

// The trace tests' roles (see runRoleIfRequested): "server ADDR" listens
// on ADDR, prints its port and accepts, holding each connection until the
// peer closes it; "client ADDR N" makes N connections to ADDR, each closed
// 1-2 ms after it was accepted; "trace" (run as nobody) prints what Trace
// returns; "lazyserver ADDR" listens, prints its port and accepts one
// connection when a line comes on its standard input, then holds it until
// the peer closes it; "hold ADDR" connects and closes when a line comes;
// "stuckserver ADDR" listens with no room in its accept queue and never
// accepts; "synsent ADDR N" starts N connections to ADDR without waiting
// for them and prints their local ports.
const (
	roleServer      = "server"
	roleClient      = "client"
	roleTrace       = "trace"
	roleLazyServer  = "lazyserver"
	roleHold        = "hold"
	roleStuckServer = "stuckserver"
	roleSynSent     = "synsent"
)

// runTraceRole plays one of the trace tests' roles and returns the exit
// code.
func runTraceRole(role []string) int {
	var err error
	switch {
	case role[0] == roleServer && len(role) == 2:
		err = serve(role[1])
	case role[0] == roleClient && len(role) == 3:
		n, _ := strconv.Atoi(role[2])
		err = dialMany(role[1], n)
	case role[0] == roleTrace:
		err = traceUnprivileged()
	case role[0] == roleLazyServer && len(role) == 2:
		err = serveOneLater(role[1])
	case role[0] == roleHold && len(role) == 2:
		err = dialHold(role[1])
	case role[0] == roleStuckServer && len(role) == 2:
		err = listenStuck(role[1])
	case role[0] == roleSynSent && len(role) == 3:
		n, _ := strconv.Atoi(role[2])
		err = connectMany(role[1], n)
	default:
		err = fmt.Errorf("bad role %q", role)
	}
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	return 0
}

func serve(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("PORT", l.Addr().(*net.TCPAddr).Port)
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); os.Exit(0) }()
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			// Read until the client closes, then close: the client
			// closes first and keeps the TIME-WAIT.
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}()
	}
}

func serveOneLater(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("PORT", l.Addr().(*net.TCPAddr).Port)
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		return err
	}
	c, err := l.Accept()
	if err != nil {
		return err
	}
	fmt.Println("ACCEPTED")
	_, _ = io.Copy(io.Discard, c)
	c.Close()
	_, _ = io.Copy(io.Discard, in)
	return nil
}

func dialHold(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("CONNECTED", c.LocalAddr().(*net.TCPAddr).Port)
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		return err
	}
	c.Close()
	_, _ = io.Copy(io.Discard, in)
	return nil
}

func dialMany(addr string, n int) error {
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		time.Sleep(time.Millisecond + time.Duration(i%2)*500*time.Microsecond)
		c.Close()
	}
	fmt.Println("DONE")
	return nil
}

func traceUnprivileged() error {
	p, err := linux.New()
	if err != nil {
		return err
	}
	defer p.Close()
	src, why := p.TraceSource()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = p.Trace(ctx, tcptable.Query{}, func(tcptable.Event) error { return nil })
	fmt.Printf("SOURCE %v\nWHY %v\nERR %v\n", src, why, err)
	// Forcing BPF: not supported, and why.
	pb, err := linux.New(linux.WithTraceSource(linux.TraceBPF))
	if err != nil {
		return err
	}
	defer pb.Close()
	err = pb.Trace(ctx, tcptable.Query{}, func(tcptable.Event) error { return nil })
	fmt.Printf("NOTSUPPORTED %v\nERR %v\n", errors.Is(err, tcptable.ErrNotSupported), err)
	return nil
}

// child is a started role.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startRoleIn runs the test binary in ns with role.
func startRoleIn(t *testing.T, ns *netnstest.NS, role string) *child {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := ns.Exec(exe)
	cmd.Env = append(os.Environ(), envRole+"="+role)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() { c.stdin.Close(); _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
	return c
}

// line reads the child's next output line.
func (c *child) line(t *testing.T) string {
	t.Helper()
	s, err := c.out.ReadString('\n')
	require.NoError(t, err, "child output")
	s = strings.TrimSpace(s)
	require.False(t, strings.HasPrefix(s, "ERROR"), s)
	return s
}

// newTraceNS makes a namespace for a trace test, or skips.
func newTraceNS(t *testing.T, name string) *netnstest.NS {
	t.Helper()
	testenv.SkipOrFailIf(t, netnstest.Available(), "cannot run here")
	ns, err := netnstest.NewNS(name)
	require.NoError(t, err)
	t.Cleanup(func() { ns.Close() })
	return ns
}

// collector gathers a Trace's events.
type collector struct {
	mu  sync.Mutex
	evs []tcptable.Event
}

func (c *collector) add(e tcptable.Event) error {
	c.mu.Lock()
	c.evs = append(c.evs, e)
	c.mu.Unlock()
	return nil
}

func (c *collector) events() []tcptable.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]tcptable.Event(nil), c.evs...)
}

// startTrace opens a provider of ns and traces q until the test ends.
func startTrace(t *testing.T, ns *netnstest.NS, q tcptable.Query, opts ...linux.Option) (*linux.Provider, *collector) {
	t.Helper()
	p, err := linux.New(append([]linux.Option{linux.WithNetNS(ns.Path)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	src, why := p.TraceSource()
	if src != linux.TraceBPF {
		testenv.SkipOrFailIf(t, fmt.Errorf("no BPF trace here: %v", why), "cannot run here")
	}
	col := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Trace(ctx, q, col.add) }()
	t.Cleanup(func() {
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	})
	// Trace has started once a connection made now is reported.
	require.Eventually(t, func() bool { return traceStarted(p) }, 10*time.Second, 10*time.Millisecond)
	return p, col
}

// traceStarted reports whether the provider's trace is running (its
// first snapshot taken).
func traceStarted(p *linux.Provider) bool { return linux.TraceRunning(p) }

// TestTraceShortConnections: connections living 1-2 ms, from two client
// processes, over IPv4 and IPv6, are reported opened and closed with the
// right owners, while a busy neighbour namespace's events stay out.
func TestTraceShortConnections(t *testing.T) {
	ns := newTraceNS(t, "tcptable-trace-a")
	busy := newTraceNS(t, "tcptable-trace-b")
	start := time.Now()
	_, col := startTrace(t, ns, tcptable.Query{})

	// The neighbour: the same addresses and busy.
	bsrv := startRoleIn(t, busy, "server 127.0.0.1:0")
	bport := strings.TrimPrefix(bsrv.line(t), "PORT ")
	for range 2 {
		startRoleIn(t, busy, "client 127.0.0.1:"+bport+" 200")
	}

	srv4 := startRoleIn(t, ns, "server 127.0.0.1:0")
	port4, _ := strconv.Atoi(strings.TrimPrefix(srv4.line(t), "PORT "))
	srv6 := startRoleIn(t, ns, "server [::1]:0")
	port6, _ := strconv.Atoi(strings.TrimPrefix(srv6.line(t), "PORT "))
	const perClient = 20
	clients := []*child{
		startRoleIn(t, ns, fmt.Sprintf("client 127.0.0.1:%d %d", port4, perClient)),
		startRoleIn(t, ns, fmt.Sprintf("client [::1]:%d %d", port6, perClient)),
		startRoleIn(t, ns, fmt.Sprintf("client 127.0.0.1:%d %d", port4, perClient)),
	}
	for _, c := range clients {
		require.Equal(t, "DONE", c.line(t))
	}
	servers := map[uint16]int{uint16(port4): srv4.cmd.Process.Pid, uint16(port6): srv6.cmd.Process.Pid}

	// Every client connection: opened by its client in SYN-SENT, closed
	// (in TIME-WAIT, owned by the kernel); every accepted one: opened in
	// SYN-RECEIVED by the kernel, then owned by its server.
	type conn struct {
		opened, established, timeWait, accepted, closed bool
	}
	want := 3 * perClient
	var evs []tcptable.Event
	require.Eventually(t, func() bool {
		evs = col.events()
		n := 0
		for _, e := range evs {
			if e.Kind == tcptable.EventStateChanged && e.After.State == tcptable.StateTimeWait {
				n++
			}
		}
		return n >= want
	}, 20*time.Second, 50*time.Millisecond, "TIME-WAIT transitions")
	end := time.Now()
	clientConns := map[tcptable.Key]*conn{}
	serverConns := map[tcptable.Key]*conn{}
	clientPIDs := map[int]bool{}
	for _, c := range clients {
		clientPIDs[c.cmd.Process.Pid] = true
	}
	for _, e := range evs {
		require.NotEqual(t, tcptable.EventLost, e.Kind, "no loss with the default ring")
		r := e.Row()
		require.True(t, r.Local.Addr().IsLoopback(), "%v", e)
		require.False(t, e.Time.Before(start) || e.Time.After(end), "event time %v outside [%v, %v]: %v", e.Time, start, end, e)
		lp, rp := r.Local.Port(), r.Remote.Port()
		if _, ok := servers[lp]; !ok {
			if _, ok := servers[rp]; !ok {
				// Only the listeners' own rows are left.
				t.Fatalf("event of another namespace or connection: %v", e)
			}
		}
		if spid, ok := servers[lp]; ok && r.State != tcptable.StateListen { // the server's end
			sc := serverConns[e.Key]
			if sc == nil {
				sc = &conn{}
				serverConns[e.Key] = sc
			}
			switch e.Kind {
			case tcptable.EventOpened:
				assert.Equal(t, tcptable.StateSynReceived, e.After.State, "%v", e)
				assert.Equal(t, tcptable.OwnerKernel, e.After.OwnerStatus, "in the accept queue: %v", e)
				assert.False(t, e.After.Created.IsZero(), "%v", e)
				sc.opened = true
			case tcptable.EventOwnerChanged:
				if e.After.PID != 0 {
					assert.Equal(t, spid, int(e.After.PID), "owned by its server: %v", e)
					assert.Equal(t, "linux.test", e.After.Module.Name)
					assert.NotEmpty(t, e.After.Module.Path)
				}
				// accept(): the owner changes and the state does not
				// (close() changes both).
				if e.Before.State == e.After.State && e.Before.OwnerStatus == tcptable.OwnerKernel && e.After.PID != 0 {
					sc.accepted = true
				}
			}
			continue
		}
		if _, ok := servers[rp]; !ok {
			continue
		}
		cc := clientConns[e.Key]
		if cc == nil {
			cc = &conn{}
			clientConns[e.Key] = cc
		}
		switch e.Kind {
		case tcptable.EventOpened:
			assert.Equal(t, tcptable.StateSynSent, e.After.State, "%v", e)
			assert.True(t, clientPIDs[int(e.After.PID)], "opened by a client: %v", e)
			assert.NotZero(t, e.After.Local.Port(), "%v", e)
			assert.False(t, e.After.Created.IsZero(), "%v", e)
			cc.opened = true
		case tcptable.EventStateChanged:
			switch e.After.State {
			case tcptable.StateEstablished:
				assert.True(t, clientPIDs[int(e.After.PID)], "%v", e)
				cc.established = true
			case tcptable.StateTimeWait:
				assert.Equal(t, tcptable.OwnerKernel, e.After.OwnerStatus, "TIME-WAIT belongs to the kernel: %v", e)
				assert.Zero(t, e.After.PID)
				cc.timeWait = true
			}
		case tcptable.EventClosed:
			cc.closed = true
		}
	}
	assert.Len(t, clientConns, want, "client connections")
	for k, c := range clientConns {
		assert.True(t, c.opened && c.established && c.timeWait, "%v: %+v", k, *c)
	}
	accepted := 0
	for k, c := range serverConns {
		assert.True(t, c.opened, "%v: %+v", k, *c)
		if c.accepted {
			accepted++
		}
	}
	assert.Equal(t, want, accepted, "accepted connections attributed to their server")
}

// TestTraceAcceptedAfterStart: a connection that waits in a listener's
// accept queue when a Trace starts (born while the recorder kept only
// birth times) is attributed to the process that accepts it before that
// process closes it, not left to the kernel until then.
func TestTraceAcceptedAfterStart(t *testing.T) {
	ns := newTraceNS(t, "tcptable-trace-f")
	p, err := linux.New(linux.WithNetNS(ns.Path))
	require.NoError(t, err)
	defer p.Close()
	if src, why := p.TraceSource(); src != linux.TraceBPF { // waits for the recorder
		testenv.SkipOrFailIf(t, fmt.Errorf("no BPF trace here: %v", why), "cannot run here")
	}
	srv := startRoleIn(t, ns, "lazyserver 127.0.0.1:0")
	port, _ := strconv.Atoi(strings.TrimPrefix(srv.line(t), "PORT "))
	cl := startRoleIn(t, ns, fmt.Sprintf("hold 127.0.0.1:%d", port))
	cport, _ := strconv.Atoi(strings.TrimPrefix(cl.line(t), "CONNECTED "))

	col := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Trace(ctx, tcptable.Query{}, col.add) }()
	defer func() {
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	}()
	require.Eventually(t, func() bool { return traceStarted(p) }, 10*time.Second, 10*time.Millisecond)

	_, err = io.WriteString(srv.stdin, "accept\n")
	require.NoError(t, err)
	require.Equal(t, "ACCEPTED", srv.line(t))
	_, err = io.WriteString(cl.stdin, "close\n")
	require.NoError(t, err)
	spid := srv.cmd.Process.Pid
	// The server's end: its owner is the server before the server
	// closes it (LAST-ACK is the server's own close).
	owned := func() bool {
		for _, e := range col.events() {
			if e.After.Local.Port() == uint16(port) && e.After.Remote.Port() == uint16(cport) &&
				int(e.After.PID) == spid && e.After.State != tcptable.StateLastAck && e.After.State != tcptable.StateClosed {
				return true
			}
		}
		return false
	}
	require.Eventually(t, func() bool {
		for _, e := range col.events() {
			if e.Before.Local.Port() == uint16(port) && e.Before.Remote.Port() == uint16(cport) && e.Kind == tcptable.EventClosed {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "the server's end of the connection closes")
	assert.True(t, owned(), "owned by the server (PID %d) before it closed: %v", spid, col.events())
}

// TestTraceRingOverflow: a one-page ring and a consumer that stalls lose
// events, and the trace says how many before any later event.
func TestTraceRingOverflow(t *testing.T) {
	ns := newTraceNS(t, "tcptable-trace-c")
	p, err := linux.New(linux.WithNetNS(ns.Path), linux.WithTraceBuffer(4096))
	require.NoError(t, err)
	defer p.Close()
	if src, why := p.TraceSource(); src != linux.TraceBPF {
		testenv.SkipOrFailIf(t, fmt.Errorf("no BPF trace here: %v", why), "cannot run here")
	}
	var mu sync.Mutex
	var evs []tcptable.Event
	stall := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- p.Trace(ctx, tcptable.Query{}, func(e tcptable.Event) error {
			mu.Lock()
			evs = append(evs, e)
			n := len(evs)
			mu.Unlock()
			if n == 1 {
				<-stall // the reader stops while the burst fills the ring
			}
			return nil
		})
	}()
	require.Eventually(t, func() bool { return linux.TraceRunning(p) }, 10*time.Second, 10*time.Millisecond)
	srv := startRoleIn(t, ns, "server 127.0.0.1:0")
	port := strings.TrimPrefix(srv.line(t), "PORT ")
	cl := startRoleIn(t, ns, "client 127.0.0.1:"+port+" 200")
	require.Equal(t, "DONE", cl.line(t))
	close(stall)
	var lost uint64
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		lost = 0
		for _, e := range evs {
			if e.Kind == tcptable.EventLost {
				lost += e.Lost
			}
		}
		// One page holds 25 records; 200 connections make over 2,000.
		// (A first few may be the programs' misses on a busy machine,
		// reported before the ring's.)
		return lost > 1000
	}, 10*time.Second, 20*time.Millisecond)
	cancel()
	<-done
	assert.Greater(t, lost, uint64(1000), "lost events counted")
	t.Logf("lost %d events, received %d", lost, len(evs))
}

// TestTraceUnprivileged: as nobody, Trace is not supported, and says why
// in one line.
func TestTraceUnprivileged(t *testing.T) {
	testenv.SkipOrFailIf(t, netnstest.Available(), "cannot run here")
	if _, err := exec.LookPath("setpriv"); err != nil {
		testenv.SkipOrFailIf(t, fmt.Errorf("setpriv not found (apt-get install util-linux): %w", err), "cannot run here")
	}
	exe, dir, err := netnstest.PublicExecutable()
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	id := strconv.Itoa(netnstest.Unprivileged)
	cmd := exec.Command("setpriv", "--reuid="+id, "--regid="+id, "--clear-groups", exe)
	cmd.Env = append(os.Environ(), envRole+"=trace")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 5, "%s", out)
	t.Logf("%s", out)
	// The destroy groups take any user here (the kernel lets non-root
	// sockets receive sock_diag's groups); BPF needs privilege.
	assert.Contains(t, []string{"SOURCE sock_diag", "SOURCE poll"}, lines[0])
	assert.Contains(t, lines[1], "CAP_BPF", "why BPF is not used")
	if lines[0] == "SOURCE sock_diag" {
		assert.Contains(t, lines[2], context.DeadlineExceeded.Error(), "the fallback traced until the deadline")
	} else {
		assert.Contains(t, lines[2], "not supported")
	}
	assert.Equal(t, "NOTSUPPORTED true", lines[3])
	assert.Contains(t, lines[4], "CAP_BPF", "the error says why, in one line")
}

// TestTableCreated: sockets born while the provider is open carry their
// birth time in Table; older ones keep the zero time.
func TestTableCreated(t *testing.T) {
	ns := newTraceNS(t, "tcptable-trace-d")
	old := startRoleIn(t, ns, "server 127.0.0.1:0")
	oldPort, _ := strconv.Atoi(strings.TrimPrefix(old.line(t), "PORT "))
	p, err := linux.New(linux.WithNetNS(ns.Path))
	require.NoError(t, err)
	defer p.Close()
	if src, why := p.TraceSource(); src != linux.TraceBPF { // waits for the recorder
		testenv.SkipOrFailIf(t, fmt.Errorf("no BPF recorder here: %v", why), "cannot run here")
	}
	before := time.Now()
	srv := startRoleIn(t, ns, "server [::1]:0")
	port, _ := strconv.Atoi(strings.TrimPrefix(srv.line(t), "PORT "))
	cl := startRoleIn(t, ns, fmt.Sprintf("client [::1]:%d 3", port))
	require.Equal(t, "DONE", cl.line(t))
	after := time.Now()
	// Wait until the three connections are in TIME-WAIT: a minisocket
	// that takes over while Table reads the birth times gets its own at
	// the next call.
	q := tcptable.Query{States: []tcptable.State{tcptable.StateTimeWait}, RemotePort: uint16(port)}
	require.Eventually(t, func() bool {
		rows, err := p.Table(context.Background(), q)
		return err == nil && len(rows) == 3
	}, 5*time.Second, 10*time.Millisecond)
	rows, err := p.Table(context.Background(), tcptable.Query{})
	require.NoError(t, err)
	n := 0
	for _, r := range rows {
		switch {
		case r.Local.Port() == uint16(oldPort):
			assert.True(t, r.Created.IsZero(), "born before New: %v", r)
		case r.Local.Port() == uint16(port) || r.Remote.Port() == uint16(port):
			n++
			assert.False(t, r.Created.Before(before) || r.Created.After(after), "%v: created %v not in [%v, %v]", r, r.Created, before, after)
		}
	}
	assert.Equal(t, 4, n, "the listener and three TIME-WAIT rows")
}

// TestTraceSockDiag: the fallback source reports every end exactly, from
// the destroy groups, and a connection's hand-over to TIME-WAIT as a
// state change.
func TestTraceSockDiag(t *testing.T) {
	ns := newTraceNS(t, "tcptable-trace-e")
	p, err := linux.New(linux.WithNetNS(ns.Path), linux.WithTraceSource(linux.TraceSockDiag), linux.WithTracePoll(50*time.Millisecond))
	require.NoError(t, err)
	defer p.Close()
	src, why := p.TraceSource()
	if src != linux.TraceSockDiag {
		testenv.SkipOrFailIf(t, fmt.Errorf("no sock_diag destroy groups here: %v", why), "cannot run here")
	}
	srv := startRoleIn(t, ns, "server 127.0.0.1:0")
	port, _ := strconv.Atoi(strings.TrimPrefix(srv.line(t), "PORT "))
	col := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() { done <- p.TraceReady(ctx, tcptable.Query{}, func(s string) { ready <- s }, col.add) }()
	select {
	case <-ready: // the groups are joined and the first snapshot taken
	case err := <-done:
		t.Fatalf("Trace: %v", err)
	}
	start := time.Now()
	cl := startRoleIn(t, ns, fmt.Sprintf("client 127.0.0.1:%d 10", port))
	require.Equal(t, "DONE", cl.line(t))
	var closed, timeWait int
	require.Eventually(t, func() bool {
		closed, timeWait = 0, 0
		for _, e := range col.events() {
			switch {
			case e.Kind == tcptable.EventClosed && e.Before.Local.Port() == uint16(port) && e.Before.Remote.Port() != 0:
				closed++ // the server's ends
				assert.False(t, e.Time.Before(start), "%v", e)
			case e.Kind == tcptable.EventStateChanged && e.After.State == tcptable.StateTimeWait:
				timeWait++
				assert.Equal(t, tcptable.OwnerKernel, e.After.OwnerStatus, "%v", e)
			}
		}
		return closed >= 10
	}, 10*time.Second, 20*time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	assert.Equal(t, 10, closed, "every server end, exactly once")
	t.Logf("TIME-WAIT hand-overs seen: %d of 10 (those whose connection a poll saw first)", timeWait)
}

// TestTraceClose: Close ends a Trace whose fn calls Table, with an error
// wrapping tcptable.ErrClosed, and fn is not called after Trace returns.
func TestTraceClose(t *testing.T) {
	ns := newTraceNS(t, "tcptable-trace-f")
	p, err := linux.New(linux.WithNetNS(ns.Path))
	require.NoError(t, err)
	if src, why := p.TraceSource(); src != linux.TraceBPF {
		p.Close()
		testenv.SkipOrFailIf(t, fmt.Errorf("no BPF trace here: %v", why), "cannot run here")
	}
	var returned atomic.Bool
	calls := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- p.Trace(context.Background(), tcptable.Query{}, func(e tcptable.Event) error {
			assert.False(t, returned.Load(), "fn called after Trace returned")
			_, _ = p.Table(context.Background(), tcptable.Query{})
			select {
			case calls <- struct{}{}:
			default:
			}
			return nil
		})
		returned.Store(true)
	}()
	require.Eventually(t, func() bool { return linux.TraceRunning(p) }, 10*time.Second, 10*time.Millisecond)
	srv := startRoleIn(t, ns, "server 127.0.0.1:0")
	port := strings.TrimPrefix(srv.line(t), "PORT ")
	cl := startRoleIn(t, ns, "client 127.0.0.1:"+port+" 50")
	<-calls
	require.NoError(t, p.Close())
	assert.ErrorIs(t, <-done, tcptable.ErrClosed)
	require.Equal(t, "DONE", cl.line(t))
}
