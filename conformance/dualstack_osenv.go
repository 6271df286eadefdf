//go:build unix || windows

package conformance

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// OSEnv opens listeners on [::] with IPV6_V6ONLY as asked where the OS has
// the option.
var _ DualStackEnv = osEnv{}

// ListenUnspecified opens a real listener on [::], setting IPV6_V6ONLY to
// v6only before the socket is bound (package net sets it on for "tcp6";
// this overrides it). Where IPv6 is missing it returns an error wrapping
// tcptable.ErrNotSupported.
func (osEnv) ListenUnspecified(v6only bool) (Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { err = setV6Only(fd, v6only) }); cerr != nil {
			return cerr
		}
		if err != nil {
			return fmt.Errorf("setsockopt(IPV6_V6ONLY, %v): %w", v6only, err)
		}
		return nil
	}}
	listen := func(network string, addr *net.TCPAddr) (*net.TCPListener, error) {
		ln, err := lc.Listen(context.Background(), network, addr.String())
		if err != nil {
			return nil, err
		}
		return ln.(*net.TCPListener), nil
	}
	return listenOn("tcp6", netip.IPv6Unspecified(), listen)
}

// boolInt is 1 for true, 0 for false: a boolean socket option's value.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
