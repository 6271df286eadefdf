package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/mock"
)

// selfTestTimeout is the suite's timeout for the defective providers, to
// keep their failing polls short. The passing runs keep the default: they
// never wait for it, and a short timeout would be a timed assertion on a
// noisy machine.
const selfTestTimeout = 300 * time.Millisecond

// defectEnv names the defect TestDefectChild runs the suite against.
const defectEnv = "TCPTABLE_CONFORMANCE_DEFECT"

// TestMock runs the suite against the mock, which is its own Env.
func TestMock(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p := mock.New()
		return p, p
	})
}

// TestOddProvider runs the suite against a provider that is odd but
// correct: rows in random order, rows of other processes and other hosts,
// TIME-WAIT leftovers on the Env's own ports, SO_REUSEPORT listeners.
func TestOddProvider(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p := mock.New(unrelatedRows()...)
		return oddProvider(p), p
	})
}

// unrelatedRows are rows of other processes and hosts.
func unrelatedRows() []tcptable.Connection {
	ap := netip.MustParseAddrPort
	sshd := tcptable.Module{Name: "sshd", Path: "/usr/sbin/sshd"}
	return []tcptable.Connection{
		{State: tcptable.StateListen, Local: ap("0.0.0.0:22"), PID: 1, Module: sshd},
		{State: tcptable.StateListen, Local: ap("[::]:22"), PID: 1, Module: sshd},
		{State: tcptable.StateListen, Local: ap("0.0.0.0:80"), PID: 300, Socket: 1001, Module: tcptable.Module{Name: "nginx"}},
		{State: tcptable.StateListen, Local: ap("0.0.0.0:80"), PID: 301, Socket: 1002, Module: tcptable.Module{Name: "nginx"}},
		{State: tcptable.StateEstablished, Local: ap("192.0.2.10:22"), Remote: ap("198.51.100.7:50123"), PID: 1, Module: sshd},
		{State: tcptable.StateEstablished, Local: ap("[2001:db8::1]:443"), Remote: ap("[2001:db8::2]:61000"), OwnerStatus: tcptable.OwnerPermissionDenied},
		{State: tcptable.StateSynReceived, Local: ap("[::ffff:10.0.0.1]:8080"), Remote: ap("[::ffff:10.0.0.2]:40001"), OwnerStatus: tcptable.OwnerNotFound},
		{State: tcptable.StateTimeWait, Local: ap("127.0.0.1:40000"), Remote: ap("127.0.0.1:40002"), OwnerStatus: tcptable.OwnerKernel},
	}
}

// oddProvider serves p's rows in random order and, on every call, first
// adds a TIME-WAIT leftover (to port 9) on the local port of every row of
// this process, as earlier tests leave them on a real host.
func oddProvider(p *mock.Provider) *wrapper {
	pid := uint32(os.Getpid())
	return &wrapper{Provider: p, table: func(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
		for _, c := range p.Rows() {
			if c.PID == pid {
				p.Add(tcptable.Connection{
					State:       tcptable.StateTimeWait,
					Local:       c.Local,
					Remote:      netip.AddrPortFrom(c.Local.Addr(), 9),
					OwnerStatus: tcptable.OwnerKernel,
				})
			}
		}
		rows, err := p.Table(ctx, q)
		rand.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		return rows, err
	}}
}

// TestDefectiveProviders runs the suite against every defect in a child
// process (the suite fails a *testing.T, which only a test binary can
// observe from outside) and checks that it fails where it should. The
// children mostly wait for polls to time out, so they all run at once.
func TestDefectiveProviders(t *testing.T) {
	defects := allDefects()
	names := slices.Sorted(maps.Keys(defects))
	results := make(map[string]chan childResult, len(names))
	for _, name := range names {
		ch := make(chan childResult, 1)
		results[name] = ch
		go func() { ch <- runChild(t.Context(), name) }()
	}
	for _, name := range names {
		d := defects[name]
		t.Run(name, func(t *testing.T) {
			r := <-results[name]
			require.NoError(t, r.ctxErr, "the child did not finish:\n%s", r.out)
			switch {
			case d.crash:
				var exit *exec.ExitError
				require.ErrorAs(t, r.err, &exit, "the child survived %s:\n%s", name, r.out)
			case d.subtest == "":
				require.NoError(t, r.err, "the suite failed %s:\n%s", name, r.out)
			default:
				var exit *exec.ExitError
				require.ErrorAs(t, r.err, &exit, "the suite passed a provider with defect %s:\n%s", name, r.out)
				assert.Contains(t, r.out, "--- FAIL: TestDefectChild/"+d.subtest+" ", "the wrong check failed")
			}
			assert.Contains(t, r.out, d.message, "the output does not say what is wrong")
			if d.passes != "" {
				assert.Contains(t, r.out, "--- PASS: TestDefectChild/"+d.passes+" ")
			}
			if d.logs != "" {
				assert.Contains(t, r.out, d.logs)
			}
		})
	}
}

// allDefects returns the defects of the Table checks, of the Trace check
// and of the Kill check.
func allDefects() map[string]defect {
	all := maps.Clone(defects)
	maps.Copy(all, traceDefects)
	maps.Copy(all, killDefects)
	return all
}

// childResult is what a child process left.
type childResult struct {
	out    string
	err    error // from the child: an *exec.ExitError if it failed
	ctxErr error // set if it had to be killed
}

// runChild runs TestDefectChild for one defect, with testenv.RequireEnv
// set only if the defect says so.
func runChild(ctx context.Context, name string) childResult {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDefectChild$", "-test.v", "-test.count=1")
	required := ""
	if defects[name].required {
		required = "1"
	}
	cmd.Env = append(os.Environ(), defectEnv+"="+name, testenv.RequireEnv+"="+required)
	out, err := cmd.CombinedOutput()
	return childResult{out: string(out), err: err, ctxErr: ctx.Err()}
}

// TestDefectChild is the child TestDefectiveProviders starts; on its own it
// skips.
func TestDefectChild(t *testing.T) {
	name := os.Getenv(defectEnv)
	if name == "" {
		t.Skip("run by TestDefectiveProviders with " + defectEnv + " set")
	}
	d, ok := allDefects()[name]
	if !ok {
		t.Fatalf("%s=%q: no such defect", defectEnv, name)
	}
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p := mock.New()
		if d.env != nil {
			return d.wrap(p), d.env(p)
		}
		return d.wrap(p), p
	}, append(childOptions(d), d.opts...)...)
}

// childOptions are the suite's options for a defect's child: the short
// selfTestTimeout where the suite must fail, so that the failing polls end
// soon, and the default where it must pass, since a passing run never
// waits for its timeout and a short one would only fail a call that a
// loaded machine slows down.
func childOptions(d defect) []conformance.Option {
	if d.subtest == "" && !d.crash {
		return nil
	}
	return []conformance.Option{conformance.WithTimeout(selfTestTimeout)}
}

// TestGapRelaxesItsCheck: a provider whose listeners have no PID passes
// once it declares NoListenerPID (zero-pids-despite-gap shows the gap
// relaxes nothing else).
func TestGapRelaxesItsCheck(t *testing.T) {
	zeroListenerPIDs := func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p := mock.New()
		return zeroPIDs(p, func(c *tcptable.Connection) bool { return c.State == tcptable.StateListen }), p
	}
	conformance.Run(t, zeroListenerPIDs,
		conformance.DeclareGap(conformance.NoListenerPID, "test: listeners have no PID"))
}

// TestInconsistentOnce: a provider that now and then says the table
// changed while it was read (tcptable.ErrInconsistent) passes; the suite
// asks again.
func TestInconsistentOnce(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p := mock.New()
		p.FailNext(tcptable.ErrInconsistent, nil, nil, tcptable.ErrInconsistent)
		return p, p
	})
}

// TestOSEnvEndpoints checks the real Env's own promises, without a
// provider: loopback addresses, ports with two different bytes, a working
// connection, and half-close and active close without errors.
func TestOSEnvEndpoints(t *testing.T) {
	env := conformance.OSEnv()
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			ln, err := env.Listen(network)
			if errors.Is(err, tcptable.ErrNotSupported) {
				testenv.SkipOrFail(t, "no IPv6 loopback: %v", err)
			}
			require.NoError(t, err)
			assertGood(t, ln.Addr(), network)
			require.NoError(t, ln.Close())
			require.NoError(t, ln.Close(), "Listener.Close is idempotent")

			pair, err := env.Dial(network)
			require.NoError(t, err)
			assertGood(t, pair.Client(), network)
			assertGood(t, pair.Server(), network)
			assert.NotEqual(t, pair.Client(), pair.Server())
			mover, ok := pair.(conformance.TransferPair)
			require.True(t, ok, "OSEnv's pairs move bytes")
			require.NoError(t, mover.Transfer(1<<20, 3), "a megabyte one way (more than the socket buffers) and 3 bytes back")
			require.NoError(t, mover.Transfer(0, 0))
			require.ErrorIs(t, mover.Transfer(-1, 0), tcptable.ErrInvalid)
			require.NoError(t, pair.CloseWrite())
			require.NoError(t, pair.CloseActive())
			require.NoError(t, pair.Close())
		})
	}
	_, err := env.Listen("udp")
	require.ErrorIs(t, err, tcptable.ErrInvalid)
	assert.Contains(t, err.Error(), `"udp"`)
}

// TestOSEnvDualStack checks OSEnv's ListenUnspecified without a provider:
// a dual-stack listener on [::] accepts a connection to 127.0.0.1 on its
// port, a V6ONLY one does not, and both accept one to ::1.
func TestOSEnvDualStack(t *testing.T) {
	env, ok := conformance.OSEnv().(conformance.DualStackEnv)
	if !ok { // an OS whose OSEnv has no [::] listeners: nothing to check there
		t.Skipf("OSEnv cannot open listeners on [::] on %s", runtime.GOOS)
	}
	for _, v6only := range []bool{false, true} {
		t.Run(fmt.Sprintf("v6only=%v", v6only), func(t *testing.T) {
			ln, err := env.ListenUnspecified(v6only)
			if errors.Is(err, tcptable.ErrNotSupported) {
				testenv.SkipOrFail(t, "no IPv6 here: %v", err)
			}
			require.NoError(t, err)
			defer ln.Close()
			a := ln.Addr()
			assert.Equal(t, netip.IPv6Unspecified(), a.Addr())
			assert.NotEqual(t, a.Port()>>8, a.Port()&0xff, "port %d has two equal bytes", a.Port())
			dial := func(ip string) error {
				c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(int(a.Port()))), 5*time.Second)
				if err == nil {
					c.Close()
				}
				return err
			}
			require.NoError(t, dial("::1"), "IPv6 reaches the listener")
			if v6only {
				assert.Error(t, dial("127.0.0.1"), "IPV6_V6ONLY refuses IPv4")
			} else {
				assert.NoError(t, dial("127.0.0.1"), "a dual-stack listener accepts IPv4")
			}
			require.NoError(t, ln.Close())
		})
	}
}

// assertGood checks an Env address: loopback of the network's family, on a
// port whose two bytes differ.
func assertGood(t *testing.T, ap netip.AddrPort, network string) {
	t.Helper()
	assert.True(t, ap.Addr().IsLoopback(), "%v is not a loopback address", ap)
	assert.Equal(t, network == "tcp4", ap.Addr().Is4(), "%v is not a %s address", ap, network)
	assert.NotEqual(t, ap.Port()>>8, ap.Port()&0xff, "port %d has two equal bytes", ap.Port())
}
