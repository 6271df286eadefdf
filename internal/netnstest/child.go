//go:build linux

package netnstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
)

// envChild carries a child's role: a JSON Spec, or roleSleep.
const envChild = "TCPTABLE_NETNSTEST_CHILD"

// roleSleep is the grandchild that only holds inherited descriptors.
const roleSleep = "sleep"

// RunChildIfRequested turns the process into a socket-holding child when it
// was started by Start or StartHolder (or is a holder's grandchild), and
// never returns in that case. Call it first thing
// in TestMain or main.
func RunChildIfRequested() {
	if n, err := strconv.Atoi(os.Getenv(envHolderFD)); err == nil {
		runSharer(n)
	}
	if spec, ok := os.LookupEnv(envHolder); ok {
		runHolder(spec)
	}
	role, ok := os.LookupEnv(envChild)
	if !ok {
		return
	}
	if role == roleSleep {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	var spec Spec
	if err := json.Unmarshal([]byte(role), &spec); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	h, err := build(spec)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("READY", h.sharer)
	_, _ = io.Copy(io.Discard, os.Stdin)
	h.close()
	os.Exit(0)
}

// holder keeps a child's sockets open.
type holder struct {
	lns     []net.Listener
	conns   []net.Conn
	sharer  int
	sleeper *exec.Cmd
}

func (h *holder) close() {
	for _, c := range h.conns {
		c.Close()
	}
	for _, l := range h.lns {
		l.Close()
	}
	if h.sleeper != nil {
		h.sleeper.Process.Kill()
		h.sleeper.Wait()
	}
}

// network returns the i-th network and loopback address to use.
func (s Spec) network(i int) (string, string) {
	if s.IPv4Only || i%2 == 0 {
		return "tcp4", "127.0.0.1:0"
	}
	return "tcp6", "[::1]:0"
}

// build makes every socket of spec.
func build(spec Spec) (*holder, error) {
	h := &holder{}
	// No keepalive: 200,000 idle sockets would send 13,000 probes a
	// second over loopback, which both loads the machine being measured
	// and, when it is saturated, drops probes until the kernel kills the
	// connections.
	lc := net.ListenConfig{KeepAlive: -1}
	dialer := net.Dialer{KeepAlive: -1}
	listen := func(i int) (net.Listener, error) {
		nw, addr := spec.network(i)
		l, err := lc.Listen(context.Background(), nw, addr)
		if err == nil {
			h.lns = append(h.lns, l)
		}
		return l, err
	}
	acceptors := make([]net.Listener, spec.acceptors())
	for i := range acceptors {
		l, err := listen(i)
		if err != nil {
			h.close()
			return nil, err
		}
		acceptors[i] = l
	}
	for i := range spec.Listeners {
		if _, err := listen(i); err != nil {
			h.close()
			return nil, err
		}
	}
	pair := 0
	connect := func() (cl, sv *net.TCPConn, err error) {
		l := acceptors[pair%len(acceptors)]
		pair++
		return dialAccept(&dialer, l)
	}
	steps := []struct {
		n  int
		fn func(cl, sv *net.TCPConn) error
	}{
		{spec.Established, func(cl, sv *net.TCPConn) error {
			i := len(h.conns) / 2
			h.conns = append(h.conns, cl, sv)
			if spec.Transfer == 0 {
				return nil
			}
			n := TransferBytes(spec.Transfer, i)
			return transfer(cl, sv, n, n/3)
		}},
		{spec.HalfClosed, func(cl, sv *net.TCPConn) error {
			h.conns = append(h.conns, cl, sv)
			if err := cl.CloseWrite(); err != nil {
				return err
			}
			return readEOF(sv)
		}},
		{spec.TimeWait, func(cl, sv *net.TCPConn) error {
			cl.Close()
			err := readEOF(sv)
			sv.Close()
			return err
		}},
	}
	for _, st := range steps {
		for range st.n {
			cl, sv, err := connect()
			if err == nil {
				err = st.fn(cl, sv)
			}
			if err != nil {
				h.close()
				return nil, err
			}
		}
	}
	if spec.Share && len(h.lns) > 0 {
		if err := h.share(); err != nil {
			h.close()
			return nil, err
		}
	}
	return h, nil
}

// transfer moves up bytes from cl to sv and down bytes back, writing and
// reading at once, and returns when both ends have read everything.
func transfer(cl, sv *net.TCPConn, up, down int) error {
	errs := make(chan error, 4)
	write := func(c *net.TCPConn, n int) { _, err := c.Write(make([]byte, n)); errs <- err }
	read := func(c *net.TCPConn, n int) { _, err := io.CopyN(io.Discard, c, int64(n)); errs <- err }
	go write(cl, up)
	go read(sv, up)
	go write(sv, down)
	go read(cl, down)
	var all []error
	for range 4 {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// dialAccept dials l with d and accepts: both ends of a new connection.
func dialAccept(d *net.Dialer, l net.Listener) (cl, sv *net.TCPConn, err error) {
	c, err := d.Dial(l.Addr().Network(), l.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	s, err := l.Accept()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c.(*net.TCPConn), s.(*net.TCPConn), nil
}

// readEOF waits for the peer's FIN.
func readEOF(c *net.TCPConn) error {
	var b [1]byte
	if _, err := c.Read(b[:]); !errors.Is(err, io.EOF) {
		return fmt.Errorf("netnstest: want EOF from the half-closed peer, got %v", err)
	}
	return nil
}

// share starts a grandchild holding the first listener.
func (h *holder) share() error {
	f, err := h.lns[0].(*net.TCPListener).File()
	if err != nil {
		return err
	}
	defer f.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envChild+"="+roleSleep)
	cmd.ExtraFiles = []*os.File{f}
	if _, err := cmd.StdinPipe(); err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	h.sleeper, h.sharer = cmd, cmd.Process.Pid
	return nil
}
