//go:build linux

package netnstest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// envHolder carries a holder's HolderSpec (JSON); envHolderFD makes a
// process a second holder of the socket passed as descriptor 3.
const (
	envHolder   = "TCPTABLE_NETNSTEST_HOLDER"
	envHolderFD = "TCPTABLE_NETNSTEST_HOLDER_FD"
)

// HolderSpec says which endpoints a holder child makes. Unlike Start's
// children, a holder watches every endpoint it holds, as a program that
// uses them would: it reads each connection and accepts on each listener,
// and reports on stdout when a read or accept ends (an End), so that a
// test can see what a process holding a socket sees when the socket is
// ended from outside.
type HolderSpec struct {
	// Pairs are the networks ("tcp4", "tcp6") of connected pairs over the
	// loopback address; the holder holds and reads both ends.
	Pairs []string
	// Listeners are the networks of listeners on the loopback address.
	Listeners []string
	// MPTCP makes the listeners MPTCP sockets, as Go 1.24+ programs'
	// listeners are by default; otherwise they are plain TCP.
	MPTCP bool
	// ReusePort, when above 1, makes each listener a group of that many
	// SO_REUSEPORT listeners on one address.
	ReusePort int
	// SharePairs makes a second process (a grandchild) hold and read the
	// client end of every pair too.
	SharePairs bool
}

// Held is an endpoint a holder made.
type Held struct {
	Role   string         // "client", "server" or "listener"
	Local  netip.AddrPort // the endpoint's local address
	Remote netip.AddrPort // the peer's; the unspecified address and port 0 for a listener
}

// End is what a holder process saw when a read or accept on one of its
// endpoints returned.
type End struct {
	PID    int            // the process that saw it
	Local  netip.AddrPort // the endpoint
	Result string         // "EOF", or the errno's name ("ECONNABORTED", "ECONNRESET", "EINVAL"), or the error's text
}

// Holder is a running holder child.
type Holder struct {
	PID      int    // the holder
	SharePID int    // the grandchild holding the client ends (SharePairs), or 0
	Held     []Held // every endpoint, in the order of the spec: pairs (client, server), then listeners
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	ends     chan End
	mu       sync.Mutex
	seen     []End
}

// StartHolder runs exe with args inside ns as a holder of spec's endpoints
// and waits until every one exists. exe must call RunChildIfRequested
// first thing (args select a test function that does, e.g.
// "-test.run=^TestHolderChild$", when the package has no TestMain).
func StartHolder(ns *NS, exe string, args []string, spec HolderSpec, timeout time.Duration) (*Holder, error) {
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := ns.Exec(exe, args...)
	stdin, stdout, err := StartPiped(cmd, envHolder+"="+string(js))
	if err != nil {
		return nil, err
	}
	h := &Holder{PID: cmd.Process.Pid, cmd: cmd, stdin: stdin, ends: make(chan End, 64)}
	ready := make(chan string, 1)
	go h.read(stdout, ready, h.ends)
	select {
	case line := <-ready:
		var r holderReady
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			h.Close()
			return nil, fmt.Errorf("netnstest: holder %d: %q: %w", h.PID, line, err)
		}
		h.SharePID, h.Held = r.SharePID, r.Held
		return h, nil
	case <-time.After(timeout):
		h.Close()
		return nil, fmt.Errorf("netnstest: holder %d not ready after %v", h.PID, timeout)
	}
}

// holderReady is the holder's READY line.
type holderReady struct {
	SharePID int
	Held     []Held
}

// read passes the READY line to ready and every END line to ends, which
// it closes at the end of r.
func (h *Holder) read(r io.Reader, ready chan<- string, ends chan<- End) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if s, ok := strings.CutPrefix(line, "READY "); ok {
			ready <- s
			continue
		}
		if s, ok := strings.CutPrefix(line, "END "); ok {
			var e End
			if json.Unmarshal([]byte(s), &e) == nil {
				ends <- e
			}
			continue
		}
		select {
		case ready <- line: // an error line: StartHolder reports it
		default:
		}
	}
	close(ends)
}

// WaitEnds waits until n processes have reported the end of the endpoint
// at local, or timeout passes, and returns what they reported.
func (h *Holder) WaitEnds(local netip.AddrPort, n int, timeout time.Duration) ([]End, error) {
	deadline := time.After(timeout)
	for {
		h.mu.Lock()
		var got []End
		for _, e := range h.seen {
			if e.Local == local {
				got = append(got, e)
			}
		}
		h.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case e, ok := <-h.ends:
			if !ok {
				return got, fmt.Errorf("netnstest: holder %d exited; %d of %d holders saw the end of %v", h.PID, len(got), n, local)
			}
			h.mu.Lock()
			h.seen = append(h.seen, e)
			h.mu.Unlock()
		case <-deadline:
			return got, fmt.Errorf("netnstest: %v: %d of %d holders saw the end within %v", local, len(got), n, timeout)
		}
	}
}

// Ends returns the ends reported so far without waiting for more.
func (h *Holder) Ends() []End {
	h.mu.Lock()
	defer h.mu.Unlock()
	for more := true; more; {
		select {
		case e, ok := <-h.ends:
			if ok {
				h.seen = append(h.seen, e)
			}
			more = ok
		default:
			more = false
		}
	}
	return append([]End(nil), h.seen...)
}

// Close makes the holder (and its grandchild) release everything and exit,
// and waits for it.
func (h *Holder) Close() error { return Stop(h.cmd, h.stdin) }

// runHolder is the holder child's main: it makes spec's endpoints, prints
// READY and a JSON holderReady, watches every endpoint until stdin closes
// and prints an END line for each read or accept that returns.
func runHolder(js string) {
	var spec HolderSpec
	if err := json.Unmarshal([]byte(js), &spec); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	var out sync.Mutex
	report := func(local netip.AddrPort, err error) {
		b, _ := json.Marshal(End{PID: os.Getpid(), Local: local, Result: endResult(err)})
		out.Lock()
		fmt.Printf("END %s\n", b)
		out.Unlock()
	}
	r, closers, err := holdSpec(spec, report)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(r)
	out.Lock()
	fmt.Printf("READY %s\n", b)
	out.Unlock()
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range closers {
		c()
	}
	os.Exit(0)
}

// holdSpec makes spec's endpoints and starts watching them.
func holdSpec(spec HolderSpec, report func(netip.AddrPort, error)) (holderReady, []func(), error) {
	var r holderReady
	var closers []func()
	fail := func(err error) (holderReady, []func(), error) {
		for _, c := range closers {
			c()
		}
		return r, nil, err
	}
	var shared []*os.File
	for _, nw := range spec.Pairs {
		cl, sv, err := connectPair(nw)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { cl.Close(); sv.Close() })
		for _, c := range []struct {
			role string
			c    *net.TCPConn
		}{{"client", cl}, {"server", sv}} {
			local, remote := c.c.LocalAddr().(*net.TCPAddr).AddrPort(), c.c.RemoteAddr().(*net.TCPAddr).AddrPort()
			r.Held = append(r.Held, Held{Role: c.role, Local: local, Remote: remote})
			go watchConn(c.c, local, report)
		}
		if spec.SharePairs {
			f, err := cl.File()
			if err != nil {
				return fail(err)
			}
			shared = append(shared, f)
		}
	}
	for _, nw := range spec.Listeners {
		lns, err := listenGroup(nw, spec.MPTCP, max(spec.ReusePort, 1))
		if err != nil {
			return fail(err)
		}
		for _, ln := range lns {
			closers = append(closers, func() { ln.Close() })
			local := ln.Addr().(*net.TCPAddr).AddrPort()
			r.Held = append(r.Held, Held{Role: "listener", Local: local, Remote: netip.AddrPortFrom(unspecifiedOf(local.Addr()), 0)})
			go watchListener(ln, local, report)
		}
	}
	if len(shared) > 0 {
		pid, stop, err := startSharer(shared)
		if err != nil {
			return fail(err)
		}
		r.SharePID = pid
		closers = append(closers, stop)
	}
	return r, closers, nil
}

// connectPair dials a plain TCP listener on nw's loopback address and
// accepts; the listener is closed again.
func connectPair(nw string) (cl, sv *net.TCPConn, err error) {
	lns, err := listenGroup(nw, false, 1)
	if err != nil {
		return nil, nil, err
	}
	defer lns[0].Close()
	return dialAccept(&net.Dialer{KeepAlive: -1}, lns[0])
}

// listenGroup listens on nw's loopback address: n listeners sharing one
// port with SO_REUSEPORT when n > 1; MPTCP or plain TCP.
func listenGroup(nw string, mptcp bool, n int) ([]*net.TCPListener, error) {
	addr := "127.0.0.1:0"
	if nw == "tcp6" {
		addr = "[::1]:0"
	}
	lc := net.ListenConfig{KeepAlive: -1}
	lc.SetMultipathTCP(mptcp)
	if n > 1 {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
			return errors.Join(err, serr)
		}
	}
	var lns []*net.TCPListener
	for range n {
		l, err := lc.Listen(context.Background(), nw, addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, l.(*net.TCPListener))
		addr = l.Addr().String()
	}
	return lns, nil
}

// watchConn reads c until a read fails, and reports how.
func watchConn(c net.Conn, local netip.AddrPort, report func(netip.AddrPort, error)) {
	var b [512]byte
	for {
		if _, err := c.Read(b[:]); err != nil {
			if !errors.Is(err, net.ErrClosed) {
				report(local, err)
			}
			return
		}
	}
}

// watchListener accepts on ln until accept fails, and reports how.
func watchListener(ln *net.TCPListener, local netip.AddrPort, report func(netip.AddrPort, error)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				report(local, err)
			}
			return
		}
		c.Close()
	}
}

// endResult names what a read or accept returned.
func endResult(err error) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.As(err, &errno):
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
	}
	return err.Error()
}

// unspecifiedOf returns the unspecified address of a's family.
func unspecifiedOf(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// startSharer starts a grandchild that holds and reads files (descriptors
// 3, 4, ...) and reports their ends on this process's stdout; it returns
// once the grandchild reads them.
func startSharer(files []*os.File) (int, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", envHolderFD, len(files)))
	cmd.ExtraFiles = files
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return 0, nil, err
	}
	defer readyR.Close()
	cmd.ExtraFiles = append(cmd.ExtraFiles, readyW)
	if err := cmd.Start(); err != nil {
		readyW.Close()
		return 0, nil, err
	}
	readyW.Close()
	for _, f := range files {
		f.Close()
	}
	var b [1]byte
	if _, err := readyR.Read(b[:]); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, nil, fmt.Errorf("netnstest: sharer did not start: %w", err)
	}
	return cmd.Process.Pid, func() { stdin.Close(); cmd.Wait() }, nil
}

// runSharer is the grandchild's main: it reads descriptors 3..3+n-1 and
// reports their ends until stdin closes; a byte written to descriptor 3+n
// says it is ready.
func runSharer(n int) {
	var out sync.Mutex
	for i := range n {
		f := os.NewFile(uintptr(3+i), "shared")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "netnstest sharer:", err)
			os.Exit(1)
		}
		local := c.LocalAddr().(*net.TCPAddr).AddrPort()
		go watchConn(c, local, func(local netip.AddrPort, err error) {
			b, _ := json.Marshal(End{PID: os.Getpid(), Local: local, Result: endResult(err)})
			out.Lock()
			fmt.Printf("END %s\n", b)
			out.Unlock()
		})
	}
	ready := os.NewFile(uintptr(3+n), "ready")
	_, _ = ready.Write([]byte{1})
	ready.Close()
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}
