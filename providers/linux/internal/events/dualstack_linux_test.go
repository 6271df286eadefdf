package events

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/internal/testenv"
)

// TestFamilyFilter: the programs mark an AF_INET6 socket's IPV6_V6ONLY in
// its records, and a filter with FamilyDualStack instead of FamilyIPv6
// lets through, of AF_INET6, the dual-stack listener (on :: with
// IPV6_V6ONLY off) alone: not the V6ONLY listener on ::, nor a listener
// on ::1, nor a connection over ::1, nor the AF_INET6 end of an IPv4
// connection the dual-stack listener accepted (IPV6_V6ONLY off, on
// ::ffff:127.0.0.1).
func TestFamilyFilter(t *testing.T) {
	testenv.MustBeRoot(t, "to load BPF programs")
	testenv.SkipOrFailIf(t, netnstest.Available(), "cannot run here")
	ns, err := netnstest.NewNS("tcptable-events-ds")
	require.NoError(t, err)
	defer ns.Close()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(ns.Path, &st))
	r, err := Open(Options{NetNS: st.Ino})
	testenv.SkipOrFailIf(t, err, "load the recorder")
	defer r.Close()

	for _, c := range []struct {
		name string
		f    Filter
		// want: the ports (by name) whose records pass, with V6Only.
		want map[string]bool
	}{
		{"all", All(), map[string]bool{"dual": false, "mapped": false, "mappedclient": false, "v6only": true, "loopback": true, "ipv4": false}},
		{"ipv4+dual", Filter{Families: FamilyIPv4 | FamilyDualStack, States: ^uint32(0)}, map[string]bool{"dual": false, "ipv4": false}},
		{"dual", Filter{Families: FamilyDualStack, States: ^uint32(0)}, map[string]bool{"dual": false}},
		{"ipv6", Filter{Families: FamilyIPv6, States: ^uint32(0)}, map[string]bool{"dual": false, "mapped": false, "mappedclient": false, "v6only": true, "loopback": true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, r.SetFilter(c.f, true))
			defer r.SetFilter(Filter{}, false)
			var names map[uint16]string
			require.NoError(t, ns.Do(func() error {
				var err error
				names, err = openAndClose()
				return err
			}))

			// Every socket above opened and closed: read until the
			// records of the closes of all four listeners would be in.
			got := map[string]bool{}
			end := time.Now().Add(time.Second)
			for time.Now().Before(end) {
				var rec Record
				err := r.Read(&rec, time.Now().Add(20*time.Millisecond))
				if errors.Is(err, ErrTimeout) {
					continue
				}
				require.NoError(t, err)
				name, ok := names[rec.SPort]
				switch {
				case !ok:
					name, ok = names[rec.DPort] // the client ends
					if name == "dual" {
						name = "mappedclient"
					}
				case name == "dual" && rec.Src != [16]byte{}:
					name = "mapped" // the accepted end, not the listener
				}
				if ok && rec.Family == unix.AF_INET && name != "ipv4" {
					continue // the AF_INET client of the dual-stack listener: not this test's
				}
				if ok && rec.Kind == KindState {
					if v, seen := got[name]; seen {
						assert.Equal(t, v, rec.V6Only, "%s: V6Only differs between records", name)
					}
					got[name] = rec.V6Only
				}
			}
			assert.Equal(t, c.want, got, "the listeners whose records passed, with V6Only")
		})
	}
}

// openAndClose opens and closes, in the calling thread's namespace, a
// dual-stack listener on [::], a V6ONLY one, a listener on [::1] with a
// connection to it, an IPv4 connection to the dual-stack listener, and a
// listener on 127.0.0.1, and names their local ports.
func openAndClose() (map[uint16]string, error) {
	var closers []interface{ Close() error }
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	dual, err := listenUnspecified(false)
	if err != nil {
		return nil, err
	}
	closers = append(closers, dual)
	only, err := listenUnspecified(true)
	if err != nil {
		return nil, err
	}
	closers = append(closers, only)
	lo, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return nil, err
	}
	closers = append(closers, lo)
	v4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	closers = append(closers, v4)
	cl, err := net.Dial("tcp6", lo.Addr().String())
	if err != nil {
		return nil, err
	}
	closers = append(closers, cl)
	sv, err := lo.Accept()
	if err != nil {
		return nil, err
	}
	closers = append(closers, sv)
	// An IPv4 connection to the dual-stack listener: its accepted end is
	// an AF_INET6 socket on ::ffff:127.0.0.1.
	cl4, err := net.Dial("tcp4", netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port(dual.Addr())).String())
	if err != nil {
		return nil, err
	}
	closers = append(closers, cl4)
	sv4, err := dual.Accept()
	if err != nil {
		return nil, err
	}
	closers = append(closers, sv4)
	// And one from an AF_INET6 socket (IPV6_V6ONLY off) to
	// ::ffff:127.0.0.1: the kernel connects it as IPv4 and chooses its
	// source address, ::ffff:127.0.0.1, before it enters SYN-SENT.
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	closers = append(closers, fdCloser(fd))
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
		return nil, err
	}
	mapped := netip.AddrFrom4([4]byte{127, 0, 0, 1}).As16()
	if err := unix.Connect(fd, &unix.SockaddrInet6{Port: int(port(dual.Addr())), Addr: mapped}); err != nil {
		return nil, err
	}
	sv6, err := dual.Accept()
	if err != nil {
		return nil, err
	}
	closers = append(closers, sv6)
	return map[uint16]string{
		port(dual.Addr()): "dual", port(only.Addr()): "v6only", port(lo.Addr()): "loopback", port(v4.Addr()): "ipv4",
	}, nil
}

// listenUnspecified listens on [::]:0 with IPV6_V6ONLY set to v6only.
func listenUnspecified(v6only bool) (net.Listener, error) {
	v := 0
	if v6only {
		v = 1
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v) }); cerr != nil {
			return cerr
		}
		return err
	}}
	return lc.Listen(context.Background(), "tcp6", "[::]:0")
}

// port returns a TCP address's port.
func port(a net.Addr) uint16 { return uint16(a.(*net.TCPAddr).Port) }

// fdCloser closes a descriptor.
type fdCloser int

func (fd fdCloser) Close() error { return unix.Close(int(fd)) }
