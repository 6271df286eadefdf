package linux_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/linux"
)

// listen opens a listener on 127.0.0.1 and returns it with a copy of its
// descriptor for a child to inherit.
func listen(t *testing.T) (*net.TCPListener, *os.File) {
	t.Helper()
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	f, err := ln.File()
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return ln, f
}

// listenerRow polls p for the listener ln until check accepts its row,
// and returns the row.
func listenerRow(t *testing.T, p *linux.Provider, ln *net.TCPListener, what string, check func(c tcptable.Connection) bool) tcptable.Connection {
	t.Helper()
	port := ln.Addr().(*net.TCPAddr).AddrPort().Port()
	return pollRow(t, p, tcptable.Query{Class: tcptable.ClassListeners, LocalPort: port}, what, check)
}

// pollRow polls p with q, which must match one row, until check accepts
// the row (a child may still be starting), and returns the row. It fails
// the test after 10 seconds.
func pollRow(t *testing.T, p *linux.Provider, q tcptable.Query, what string, check func(c tcptable.Connection) bool) tcptable.Connection {
	t.Helper()
	var last tcptable.Connection
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		rows, err := p.Table(context.Background(), q)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		if last = rows[0]; check(last) {
			return last
		}
	}
	t.Fatalf("%s: %v: owners %v, module %+v", what, last.Key(), last.Owners(), last.Module)
	return last
}

// startHolder starts cmd holding files as descriptors 3, 4, ... and stops
// it at the end of the test.
func startHolder(t *testing.T, cmd *exec.Cmd, files ...*os.File) {
	t.Helper()
	cmd.ExtraFiles = files
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// TestFollowFork: a listener created after the provider cached this
// process's descriptors and then inherited by a child is reported with
// both holders at once, with either owner scan: the parent of a new
// process is read again (not only after the revalidation interval).
func TestFollowFork(t *testing.T) {
	for _, scan := range []linux.OwnerScan{linux.OwnerScanBPF, linux.OwnerScanProcfs} {
		t.Run(scan.String(), func(t *testing.T) {
			p := newScanOrSkip(t, scan, linux.WithOwnerRevalidate(time.Hour))
			first, _ := listen(t)
			me := uint32(os.Getpid())
			listenerRow(t, p, first, "before the fork", func(c tcptable.Connection) bool { return c.PID == me })

			ln, f := listen(t)
			child := exec.Command("sleep", "60")
			startHolder(t, child, f)
			both := []uint32{me, uint32(child.Process.Pid)}
			slices.Sort(both) // PIDs may have wrapped
			c := listenerRow(t, p, ln, "after the fork", func(c tcptable.Connection) bool { return len(c.Owners()) == 2 })
			assert.Equal(t, both, c.Owners())
		})
	}
}

// TestFollowExec: a process holding two listeners runs another program
// ("sleep"), keeping one and closing the other on exec. Within the
// revalidation interval the provider reports the new program's name and
// path for the one it kept (it alone holds it), and this process alone
// for the one it closed (both held it).
func TestFollowExec(t *testing.T) {
	sleep, err := filepath.EvalSymlinks(testenv.LookPath(t, "sleep", "apt-get install coreutils"))
	require.NoError(t, err)
	for _, scan := range []linux.OwnerScan{linux.OwnerScanBPF, linux.OwnerScanProcfs} {
		t.Run(scan.String(), func(t *testing.T) {
			p := newScanOrSkip(t, scan, linux.WithOwnerRevalidate(time.Hour))
			kept, keptF := listen(t)
			dropped, droppedF := listen(t)
			child, stdin, line := startRole(t, roleExec, keptF, droppedF)
			require.Equal(t, "READY", line)
			keptPort := kept.Addr().(*net.TCPAddr).AddrPort().Port()
			require.NoError(t, kept.Close()) // the child holds it alone
			require.NoError(t, keptF.Close())

			me, pid := uint32(os.Getpid()), uint32(child.Process.Pid)
			keptRow := func(what string, check func(c tcptable.Connection) bool) tcptable.Connection {
				t.Helper()
				return pollRow(t, p, tcptable.Query{Class: tcptable.ClassListeners, LocalPort: keptPort}, what, check)
			}
			c := keptRow("before exec", func(c tcptable.Connection) bool { return c.PID == pid })
			assert.Equal(t, filepath.Base(os.Args[0]), c.Module.Name)
			listenerRow(t, p, dropped, "before exec", func(c tcptable.Connection) bool { return len(c.Owners()) == 2 })

			_, err = stdin.Write([]byte("exec\n"))
			require.NoError(t, err)
			exe := "/proc/" + strconv.Itoa(int(pid)) + "/exe"
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if l, _ := os.Readlink(exe); l == sleep {
					break
				}
				require.True(t, time.Now().Before(deadline), "the child did not exec %s", sleep)
			}
			c = keptRow("after exec", func(c tcptable.Connection) bool { return c.Module.Path == sleep })
			assert.Equal(t, tcptable.Module{Name: "sleep", Path: sleep}, c.Module)
			assert.Equal(t, []uint32{pid}, c.Owners())
			c = listenerRow(t, p, dropped, "after exec", func(c tcptable.Connection) bool { return len(c.Owners()) == 1 })
			assert.Equal(t, []uint32{me}, c.Owners())
		})
	}
}
