package windows

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/linux"
)

// envWineDLL names the stand-in bcryptprimitives.dll that
// scripts/wine-test.sh builds; without it the Wine tests here skip (the
// script runs them).
const envWineDLL = "TCPTABLE_WINE_DLL"

// The link-local address the namespace's veth interface carries.
const (
	linkLocalIf   = "tcpt0"
	linkLocalAddr = "fe80::1"
)

// wineNS is a network namespace with a Wine prefix booted inside it (so
// that wineserver and the winedevice.exe that reads the TCP table live
// there), and this package's Windows test binary, whose helper modes
// (wine_helper_windows_test.go) run the provider under Wine.
type wineNS struct {
	ns  *netnstest.NS
	exe string   // the Windows test binary
	env []string // Wine's environment
	lp  *linux.Provider
}

// newWineNS makes the namespace, with a veth pair (both ends inside it)
// whose first end carries linkLocalAddr, and boots Wine in it. It skips (or fails, see testenv.SkipOrFail)
// without root, ip or Wine.
func newWineNS(t *testing.T) *wineNS {
	t.Helper()
	testenv.SkipOrFailIf(t, netnstest.Available(), "network namespaces")
	wine, wineserver := envOr("WINE", "/usr/lib/wine/wine64"), envOr("WINESERVER", "/usr/lib/wine/wineserver")
	for _, f := range []string{wine, wineserver} {
		if _, err := os.Stat(f); err != nil {
			testenv.SkipOrFail(t, "%v (apt-get install wine64, then run scripts/wine-test.sh)", err)
		}
	}
	dll := os.Getenv(envWineDLL)
	if dll == "" {
		// Not a missing requirement: this test is scripts/wine-test.sh's,
		// which builds the DLL, sets the variable and runs it (with
		// TCPTABLE_REQUIRE_PRIVILEGED applying there); a plain go test
		// leaves it to that script.
		t.Skip(envWineDLL + " is not set: scripts/wine-test.sh builds the DLL and runs this test")
	}
	dir := t.TempDir()
	w := &wineNS{exe: filepath.Join(dir, "windows.test.exe")}
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "test", "-c", "-o", w.exe, ".")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the Windows test binary: %s", out)

	w.ns, err = netnstest.NewNS(fmt.Sprintf("tcptable-wine-%d", os.Getpid()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.ns.Close() })
	for _, args := range [][]string{
		{"link", "add", linkLocalIf, "type", "veth", "peer", "name", linkLocalIf + "p"},
		{"link", "set", linkLocalIf, "up"},
		{"link", "set", linkLocalIf + "p", "up"},
		{"addr", "add", linkLocalAddr + "/64", "dev", linkLocalIf, "nodad"},
	} {
		out, err := exec.Command("ip", append([]string{"-n", w.ns.Name}, args...)...).CombinedOutput()
		require.NoError(t, err, "ip %v: %s", args, out)
	}

	w.env = append(os.Environ(), "WINEPREFIX="+filepath.Join(dir, "prefix"), "WINEDEBUG=-all",
		"WINEARCH=win64", "WINEDLLOVERRIDES=mscoree=;mshtml=;winemenubuilder.exe=d", "DISPLAY=")
	t.Cleanup(func() { _ = w.cmd(context.Background(), wineserver, "-k").Run() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err = w.cmd(ctx, wine, "wineboot", "-i").CombinedOutput()
	require.NoError(t, err, "wineboot: %s", out)
	require.NoError(t, w.cmd(ctx, wineserver, "-w").Run())
	require.NoError(t, copyFile(dll, filepath.Join(dir, "prefix/drive_c/windows/system32/bcryptprimitives.dll")))

	w.lp, err = linux.New(linux.WithNetNS(w.ns.Path))
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.lp.Close() })
	return w
}

// cmd returns a command that runs name inside the namespace with Wine's
// environment.
func (w *wineNS) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", w.ns.Name, name}, args...)...)
	cmd.Env = w.env
	return cmd
}

// helper runs the Windows test binary under Wine in helper mode and
// decodes its JSON answer into v.
func (w *wineNS) helper(t *testing.T, mode string, v any, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := w.cmd(ctx, envOr("WINE", "/usr/lib/wine/wine64"), w.exe)
	cmd.Env = append(append(cmd.Env, envWineHelper+"="+mode), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "%s under Wine: %s", mode, stderr.String())
	require.NoError(t, json.Unmarshal(stdout.Bytes(), v), "%s output: %s", mode, stdout.String())
}

// linuxRows returns the namespace's table as the Linux provider reads it.
func (w *wineNS) linuxRows(t *testing.T) []tcptable.Connection {
	t.Helper()
	rows, err := w.lp.Table(context.Background(), tcptable.Query{Owners: tcptable.OwnerNone})
	require.NoError(t, err)
	return rows
}

// settled returns the namespace's table once it is settled: no row in a
// state that moves on by itself (a FIN waiting for its delayed ACK) and two
// reads in a row alike. It waits at most about 10 s, then returns the last
// read.
func (w *wineNS) settled(t *testing.T) []tcptable.Connection {
	t.Helper()
	transient := []tcptable.State{tcptable.StateSynSent, tcptable.StateSynReceived, tcptable.StateFinWait1,
		tcptable.StateClosing, tcptable.StateLastAck}
	prev := w.linuxRows(t)
	for range 100 {
		time.Sleep(100 * time.Millisecond)
		rows := w.linuxRows(t)
		if slices.Equal(rowSet(prev, false), rowSet(rows, false)) && !slices.ContainsFunc(rows, func(c tcptable.Connection) bool {
			return slices.Contains(transient, c.State)
		}) {
			return rows
		}
		prev = rows
	}
	return prev
}

// inNetNS runs fn on an OS thread that has joined the namespace at path, so
// that the sockets fn makes live there. The thread stays locked and is
// discarded when fn returns.
func inNetNS(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the runtime ends the thread
		f, err := os.Open(path)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// TestWineDifferential runs the Windows provider under Wine inside a fresh
// network namespace and compares it with the Linux provider reading the
// same namespace from the kernel. Wine's table comes from that kernel, so
// any difference is a decoding bug on one side (or a Wine deviation, which
// must then be declared).
func TestWineDifferential(t *testing.T) {
	w := newWineNS(t)
	t.Run("table", w.testTable)
	t.Run("churn", w.testChurn)
}

// testTable: listeners, established, half-closed and TIME-WAIT sockets on
// 127.0.0.1 and ::1 (held by a child process), and a listener and a pair on
// a link-local address: the same rows on both sides, Wine's link-local
// scope id (8192, not an interface index) declared and dropped.
func (w *wineNS) testTable(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	spec := netnstest.Spec{Listeners: 4, Established: 6, HalfClosed: 2, TimeWait: 2}
	child, err := netnstest.Start(w.ns, self, spec, false, 30*time.Second)
	require.NoError(t, err)
	defer child.Close()

	var ll []net.Conn
	var lln net.Listener
	require.NoError(t, inNetNS(w.ns.Path, func() error {
		ifi, err := net.InterfaceByName(linkLocalIf)
		if err != nil {
			return err
		}
		zone := strconv.Itoa(ifi.Index)
		if lln, err = net.Listen("tcp6", "["+linkLocalAddr+"%"+zone+"]:0"); err != nil {
			return err
		}
		port := strconv.Itoa(lln.Addr().(*net.TCPAddr).Port)
		c, err := net.Dial("tcp6", "["+linkLocalAddr+"%"+zone+"]:"+port)
		if err != nil {
			return err
		}
		s, err := lln.Accept()
		ll = append(ll, c, s)
		return err
	}))
	defer func() {
		for _, c := range ll {
			c.Close()
		}
		lln.Close()
	}()

	before := w.settled(t)
	var dump wineDump
	w.helper(t, "dump", &dump)
	after := w.linuxRows(t)
	require.Equal(t, rowSet(before, false), rowSet(after, false), "the namespace's table changed while Wine read it")
	require.GreaterOrEqual(t, len(after), spec.Sockets()+3, "the Linux provider misses sockets")
	assert.Equal(t, rowSet(after, true), rowSet(dump.Rows, true), "Wine (got) and Linux (want) disagree")

	// The link-local rows: Linux names the interface, Wine's scope id is
	// not an interface index and the provider drops it.
	var linuxLL []string
	for _, c := range after {
		if c.Local.Addr().IsLinkLocalUnicast() {
			assert.NotEmpty(t, c.Local.Addr().Zone(), "Linux: %v has no zone", c)
			linuxLL = append(linuxLL, c.Local.String())
		}
	}
	require.Len(t, linuxLL, 3, "link-local listener and pair")
	for _, c := range dump.Rows {
		if c.Local.Addr().IsLinkLocalUnicast() {
			assert.Empty(t, c.Local.Addr().Zone()+c.Remote.Addr().Zone(), "Wine: %v keeps a zone that names no interface", c)
		}
	}
	require.Len(t, dump.Scopes, 3, "raw link-local rows under Wine")
	for _, s := range dump.Scopes {
		assert.Equal(t, uint32(8192), s.LocalScope, "Wine now reports scope id %d for %v: check whether it is the interface index and retire wineZones", s.LocalScope, s.Local)
		if s.Remote.Port() != 0 {
			assert.Equal(t, uint32(8192), s.RemoteScope, "remote scope of %v", s.Remote)
		}
	}
	t.Logf("Wine and Linux agree on all %d rows of namespace %s (3 link-local, raw scope id 8192 under Wine)", len(after), w.ns.Name)
}

// testChurn: while a goroutine here opens and closes connections inside
// the namespace as fast as it can (every one ends in TIME-WAIT), Wine
// reads the namespace's table through non-atomic reads of /proc/net/tcp and
// tcp6, which list some sockets twice. The provider's answers must hold
// every Key once. Bounded by a number of polls and a time limit, never by
// timing assertions.
func (w *wineNS) testChurn(t *testing.T) {
	out, err := w.cmd(context.Background(), "sysctl", "-w", fmt.Sprintf("net.ipv4.tcp_max_tw_buckets=%d", churnTimeWait)).CombinedOutput()
	require.NoError(t, err, "sysctl: %s", out)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var churned int
	var churnErr error
	started := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		churnErr = inNetNS(w.ns.Path, func() error { return churn(ctx, started, &churned) })
	}()
	require.NoError(t, <-started)

	var st wineChurn
	// Stop after 300 polls, 45 s, or 3 polls whose raw tables held a
	// duplicate (about 1 in 40 here), whichever comes first.
	w.helper(t, "churn", &st, envWinePolls+"=300", envWineFor+"=45s", envWineDups+"=3")
	stop()
	wg.Wait()
	require.NoError(t, churnErr)
	t.Logf("%d polls under churn (%d connections, up to %d rows): %d raw tables held %d duplicate rows, %d answers held a duplicate Key",
		st.Polls, churned, st.MaxRows, st.RawDupPolls, st.RawDups, st.AnswerDupPolls)
	require.Positive(t, st.Polls)
	assert.Zero(t, st.AnswerDupPolls, "an answer listed a Key twice (first: %s)", st.FirstAnswerDup)
	if st.RawDupPolls == 0 {
		t.Logf("no raw table held a duplicate this run: the dedupe went untested here (TestParseTableDropsDuplicates covers it)")
	}
}

// Churn runs in batches with pauses between them (at most about 2,000
// connections a second), and the namespace keeps at most churnTimeWait
// TIME-WAIT sockets (net.ipv4.tcp_max_tw_buckets): Wine's cost per poll
// grows with the table, and unbounded churn makes tens of thousands of rows.
const (
	churnBatch    = 10
	churnPause    = 5 * time.Millisecond
	churnTimeWait = 500
)

// churn dials and closes connections on 127.0.0.1 and ::1 until ctx ends,
// client first, so that each leaves a TIME-WAIT row; started receives the
// setup's error.
func churn(ctx context.Context, started chan<- error, n *int) error {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			started <- err
			return nil
		}
		lns = append(lns, l)
	}
	started <- nil
	for i := 0; ctx.Err() == nil; i++ {
		if i%churnBatch == 0 {
			time.Sleep(churnPause) // leave the machine's other core to Wine
		}
		l := lns[i%len(lns)]
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return fmt.Errorf("churn: after %d connections: %w", *n, err)
		}
		s, err := l.Accept()
		if err != nil {
			c.Close()
			return err
		}
		c.Close()
		s.Close()
		*n++
	}
	return nil
}

// rowSet returns the sorted "state local remote" of each row, without
// zones if noZones.
func rowSet(rows []tcptable.Connection, noZones bool) []string {
	out := make([]string, len(rows))
	for i, c := range rows {
		l, r := c.Local, c.Remote
		if noZones {
			l, r = noZone(l), noZone(r)
		}
		out[i] = fmt.Sprintf("%v %v %v", c.State, l, r)
	}
	slices.Sort(out)
	return out
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
