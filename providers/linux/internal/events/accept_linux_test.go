package events

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/internal/testenv"
)

// TestAcceptAttribution: with each hook of the accept attribution (the
// syscalls tracepoints where tracefs has them, tp_btf/sys_exit), a socket
// this process accepts is reported owned by this process, in an owner
// record (the state unchanged), before the socket changes state again.
func TestAcceptAttribution(t *testing.T) {
	testenv.MustBeRoot(t, "to load BPF programs")
	var st unix.Stat_t
	require.NoError(t, unix.Stat("/proc/self/ns/net", &st))
	for _, c := range []struct {
		name string
		btf  bool
		hook string
	}{
		{"tracepoint", false, "syscalls:sys_exit_accept4"},
		{"tp_btf", true, "tp_btf/sys_exit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Open(Options{NetNS: st.Ino, AcceptBTF: c.btf})
			testenv.SkipOrFailIf(t, err, "load the recorder")
			defer r.Close()
			require.NoError(t, r.SetFilter(All(), true))
			if r.AcceptHook() != c.hook {
				testenv.SkipOrFail(t, "accept attribution uses %q here, not %q (tracefs without the syscalls events? mount -t tracefs nodev /sys/kernel/tracing)", r.AcceptHook(), c.hook)
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer l.Close()
			port := uint16(l.Addr().(*net.TCPAddr).Port)
			cl, err := net.Dial("tcp", l.Addr().String())
			require.NoError(t, err)
			defer cl.Close()
			time.Sleep(10 * time.Millisecond) // the child is in the queue: accept returns it
			s, err := l.Accept()
			require.NoError(t, err)
			defer s.Close()
			var rec Record
			end := time.Now().Add(5 * time.Second)
			for {
				// Records wake no reader until the ring fills: read
				// with short deadlines, as the provider's reader does.
				err := r.Read(&rec, time.Now().Add(20*time.Millisecond))
				if errors.Is(err, ErrTimeout) {
					require.True(t, time.Now().Before(end), "no owner record for the accepted socket")
					continue
				}
				require.NoError(t, err)
				if rec.Kind == KindOwner && rec.SPort == port {
					break
				}
			}
			assert.Equal(t, OwnerProcess, rec.Owner.Kind)
			assert.Equal(t, uint32(os.Getpid()), rec.Owner.PID)
			assert.Equal(t, OwnerKernel, rec.Prev.Kind, "the queue's child belonged to the kernel")
			assert.Equal(t, rec.Old, rec.New)
			assert.NotZero(t, rec.Birth)
		})
	}
}
