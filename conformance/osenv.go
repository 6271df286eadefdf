package conformance

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/tcptable/tcptable"
)

// OSEnv returns the Env of real sockets: listeners and connections on the
// loopback addresses (127.0.0.1 for "tcp4", ::1 for "tcp6") made with
// package net, owned by the calling process. Ports are chosen by the OS and
// chosen again until their two bytes differ, on both ends of a pair. On a
// host without an IPv6 loopback, "tcp6" gives an error wrapping
// tcptable.ErrNotSupported. On Unix it is a SharingEnv (Share hands a
// listener to a child "sleep" process) and a NamingEnv (ListenAs runs a
// renamed copy of "sleep"), and on Unix and Windows a DualStackEnv
// (ListenUnspecified sets IPV6_V6ONLY as asked).
func OSEnv() Env { return osEnv{} }

// osEnv is the Env of real sockets. It holds no state: every endpoint owns
// its sockets.
type osEnv struct{}

// osAttempts caps how often OSEnv asks the OS for another port; a port with
// equal bytes comes one time in 256.
const osAttempts = 32

// osIOTimeout bounds every blocking socket operation OSEnv performs.
const osIOTimeout = 10 * time.Second

// Loopback returns the loopback address an Env uses for network:
// 127.0.0.1 for "tcp4", ::1 for "tcp6". Any other network is an error that
// wraps tcptable.ErrInvalid and quotes it.
func Loopback(network string) (netip.Addr, error) {
	switch network {
	case "tcp4":
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	case "tcp6":
		return netip.IPv6Loopback(), nil
	}
	return netip.Addr{}, fmt.Errorf("conformance: network %q: want \"tcp4\" or \"tcp6\": %w", network, tcptable.ErrInvalid)
}

// osListener is a real listener.
type osListener struct {
	ln   *net.TCPListener
	addr netip.AddrPort
}

// Addr returns the listener's exact address, e.g. 127.0.0.1:40000.
func (l *osListener) Addr() netip.AddrPort { return l.addr }

// Close closes the listening socket; closing it again is not an error.
func (l *osListener) Close() error { return ignoreClosed(l.ln.Close()) }

// Listen opens a listener on network's loopback address.
func (osEnv) Listen(network string) (Listener, error) {
	return listenGood(network)
}

// listenGood listens on a port the OS chooses until that port's bytes
// differ.
func listenGood(network string) (*osListener, error) {
	ip, err := Loopback(network)
	if err != nil {
		return nil, err
	}
	return listenOn(network, ip, func(network string, addr *net.TCPAddr) (*net.TCPListener, error) {
		return net.ListenTCP(network, addr)
	})
}

// listenOn listens with listen on ip and a port the OS chooses, until that
// port's bytes differ.
func listenOn(network string, ip netip.Addr, listen func(network string, addr *net.TCPAddr) (*net.TCPListener, error)) (*osListener, error) {
	for range osAttempts {
		ln, err := listen(network, net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil {
			if network == "tcp6" {
				what := "no IPv6"
				if ip.IsLoopback() {
					what = "no IPv6 loopback"
				}
				return nil, fmt.Errorf("conformance: %s: listen on [%v]: %w: %w", what, ip, err, tcptable.ErrNotSupported)
			}
			return nil, fmt.Errorf("conformance: listen on %v: %w", ip, err)
		}
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		if goodPort(port) {
			return &osListener{ln: ln, addr: netip.AddrPortFrom(ip, port)}, nil
		}
		_ = ln.Close()
	}
	return nil, fmt.Errorf("conformance: listen on %v: no port with two different bytes in %d attempts", ip, osAttempts)
}

// osPair is a real connected pair.
type osPair struct {
	client, server *net.TCPConn
	cl, sv         netip.AddrPort
	once           sync.Once
	err            error
}

// Client returns the dialing end's local address.
func (p *osPair) Client() netip.AddrPort { return p.cl }

// Server returns the accepted end's local address.
func (p *osPair) Server() netip.AddrPort { return p.sv }

// Dial connects a client to a temporary listener, closes the listener and
// returns both ends.
func (osEnv) Dial(network string) (Pair, error) {
	ln, err := listenGood(network)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	for range osAttempts {
		p, err := connect(ln)
		if err != nil {
			return nil, err
		}
		if goodPort(p.cl.Port()) {
			return p, nil
		}
		p.abort()
	}
	return nil, fmt.Errorf("conformance: dial %v: no client port with two different bytes in %d attempts", ln.addr, osAttempts)
}

// connect dials ln from its own address and accepts the connection.
func connect(ln *osListener) (*osPair, error) {
	d := net.Dialer{
		Timeout:   osIOTimeout,
		LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(ln.addr.Addr(), 0)),
	}
	network := "tcp4"
	if ln.addr.Addr().Is6() {
		network = "tcp6"
	}
	c, err := d.Dial(network, ln.addr.String())
	if err != nil {
		return nil, fmt.Errorf("conformance: dial %v: %w", ln.addr, err)
	}
	client := c.(*net.TCPConn)
	if err := ln.ln.SetDeadline(time.Now().Add(osIOTimeout)); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("conformance: accept on %v: %w", ln.addr, err)
	}
	server, err := ln.ln.AcceptTCP()
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("conformance: accept on %v: %w", ln.addr, err)
	}
	cl := client.LocalAddr().(*net.TCPAddr).AddrPort()
	return &osPair{
		client: client,
		server: server,
		cl:     netip.AddrPortFrom(ln.addr.Addr(), cl.Port()),
		sv:     ln.addr,
	}, nil
}

// abort drops a pair without leaving TIME-WAIT behind (the client resets).
func (p *osPair) abort() {
	_ = p.client.SetLinger(0)
	_ = p.Close()
}

// drain reads the server's end until the client's FIN arrives.
func (p *osPair) drain() error {
	if err := p.server.SetReadDeadline(time.Now().Add(osIOTimeout)); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, p.server); err != nil {
		return fmt.Errorf("conformance: server %v waiting for the client's FIN: %w", p.sv, err)
	}
	return nil
}

// CloseWrite shuts down the client's writing and waits until the server
// has read the end of the stream.
func (p *osPair) CloseWrite() error {
	if err := p.client.CloseWrite(); err != nil {
		return fmt.Errorf("conformance: client %v: %w", p.cl, err)
	}
	return p.drain()
}

// CloseActive closes the client, waits for its FIN to reach the server,
// then closes the server: the client goes through FIN-WAIT-2 to TIME-WAIT.
func (p *osPair) CloseActive() error {
	if err := ignoreClosed(p.client.Close()); err != nil {
		return fmt.Errorf("conformance: client %v: %w", p.cl, err)
	}
	if err := p.drain(); err != nil {
		return err
	}
	return p.Close()
}

// Close closes both ends; it is idempotent.
func (p *osPair) Close() error {
	p.once.Do(func() {
		p.err = errors.Join(ignoreClosed(p.client.Close()), ignoreClosed(p.server.Close()))
	})
	return p.err
}

// ignoreClosed drops the error of closing what is already closed.
func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// osPair moves real bytes.
var _ TransferPair = (*osPair)(nil)

// Transfer writes clientToServer bytes on the client and serverToClient
// bytes on the server, all four directions of writing and reading at once
// (so that neither side blocks on a full buffer), and returns when each
// end has read every byte sent to it, or after osIOTimeout.
func (p *osPair) Transfer(clientToServer, serverToClient int) error {
	if clientToServer < 0 || serverToClient < 0 {
		return fmt.Errorf("conformance: Transfer(%d, %d): byte counts must not be negative: %w", clientToServer, serverToClient, tcptable.ErrInvalid)
	}
	deadline := time.Now().Add(osIOTimeout)
	for _, c := range []*net.TCPConn{p.client, p.server} {
		if err := c.SetDeadline(deadline); err != nil {
			return fmt.Errorf("conformance: Transfer: %w", err)
		}
	}
	errs := make(chan error, 4)
	run := func(what string, f func() error) {
		go func() {
			if err := f(); err != nil {
				errs <- fmt.Errorf("conformance: Transfer: %s: %w", what, err)
				return
			}
			errs <- nil
		}()
	}
	run("client writes", func() error { return writeN(p.client, clientToServer) })
	run("server reads", func() error { return readN(p.server, clientToServer) })
	run("server writes", func() error { return writeN(p.server, serverToClient) })
	run("client reads", func() error { return readN(p.client, serverToClient) })
	var all []error
	for range 4 {
		all = append(all, <-errs)
	}
	for _, c := range []*net.TCPConn{p.client, p.server} {
		all = append(all, c.SetDeadline(time.Time{}))
	}
	return errors.Join(all...)
}

// transferChunk is the size of one write of Transfer.
const transferChunk = 32 << 10

// writeN writes n bytes to w.
func writeN(w io.Writer, n int) error {
	buf := make([]byte, min(n, transferChunk))
	for n > 0 {
		k, err := w.Write(buf[:min(n, len(buf))])
		n -= k
		if err != nil {
			return err
		}
	}
	return nil
}

// readN reads exactly n bytes from r.
func readN(r io.Reader, n int) error {
	_, err := io.CopyN(io.Discard, r, int64(n))
	return err
}
