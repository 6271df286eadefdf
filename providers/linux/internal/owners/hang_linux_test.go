package owners

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/linux/internal/fusetest"
)

// frozenFile opens the file of a FUSE file system whose server then stops
// answering, and starts a child ("sleep") that holds it too: a stat that
// follows /proc/PID/fd/N into that file system now waits until the test
// ends (the cleanup aborts the connection, which releases any waiter). It
// checks that such a stat does wait, so a scan that made one would hang.
func frozenFile(t *testing.T) (f *os.File, child int) {
	t.Helper()
	fs, err := fusetest.Mount(t.TempDir())
	if err != nil {
		testenv.SkipOrFail(t, "%v: run as root with /dev/fuse", err)
	}
	// Whatever happens to the test, the connection is aborted before the
	// go test timeout would kill this process with a thread stuck in it.
	safety := time.AfterFunc(2*time.Minute, func() { fs.Abort() })
	var cmd *exec.Cmd
	t.Cleanup(func() {
		safety.Stop()
		// Abort first: closing the file (here or as the child exits)
		// flushes it, which would wait for the server too.
		assert.NoError(t, fs.Abort())
		if f != nil {
			f.Close()
		}
		if cmd != nil && cmd.Process != nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	// Opened without os.Open, which would register the descriptor with
	// the runtime's epoll: a FUSE file answers poll through its server.
	fd, err := unix.Open(fs.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	f = os.NewFile(uintptr(fd), fs.Path())
	cmd = exec.Command("sleep", "60")
	cmd.ExtraFiles = []*os.File{f}
	require.NoError(t, cmd.Start())
	fs.Freeze()
	stat, link := make(chan error, 1), "/proc/self/fd/"+strconv.Itoa(fd)
	go func() {
		var st unix.Stat_t
		stat <- unix.Stat(link, &st)
	}()
	select {
	case err := <-stat:
		t.Fatalf("a stat through /proc/self/fd of the frozen file returned (%v): the trap is not armed", err)
	case <-time.After(200 * time.Millisecond):
	}
	return f, cmd.Process.Pid
}

// TestScanDoesNotEnterFileSystems: with a process holding a file of a FUSE
// file system that stopped answering, the /proc scan and the BPF scan's
// /proc probe (for a socket no process holds) both finish and find this
// process's listener.
func TestScanDoesNotEnterFileSystems(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	lf, err := ln.(*net.TCPListener).File()
	require.NoError(t, err)
	ino := inodeOf(t, int(lf.Fd()))
	lf.Close()
	_, child := frozenFile(t)
	netns, err := selfNetNS(t)
	require.NoError(t, err)

	for _, scan := range []string{"procfs", "bpf"} {
		t.Run(scan, func(t *testing.T) {
			r, err := New("/proc", false, 0, 2, false)
			require.NoError(t, err)
			defer r.Close()
			if scan == "bpf" {
				if err := r.UseIter(true); err != nil {
					testenv.SkipOrFail(t, "BPF descriptor iterator not available (%v): run as root on Linux 5.8+ with BTF", err)
				}
			}
			// 1 is a socket no process holds: the BPF scan then reads from
			// /proc the processes it saw no socket in, the child among them.
			rows := fakeRows(ino, 1)
			done := make(chan error, 1)
			go func() {
				ctx := context.Background()
				err := r.Begin(ctx, netns)
				if err == nil {
					err = r.Finish(ctx, rows, true)
				}
				done <- err
			}()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(time.Minute):
				t.Fatalf("the %s scan hangs on a descriptor of a FUSE file system that does not answer", scan)
			}
			assert.Equal(t, uint32(os.Getpid()), rows[0].PID)
			assert.Equal(t, tcptable.OwnerOK, rows[0].OwnerStatus)
			assert.Zero(t, rows[1].PID)
			if e := r.procs[uint32(child)]; assert.NotNil(t, e, "the child holding the file was seen") {
				assert.Equal(t, r.gen, e.scanGen, "its descriptors were read")
			}
		})
	}
}
