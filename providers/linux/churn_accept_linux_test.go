package linux_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/linux"
)

// acceptChurn holds idle connections (so that the kernel's walk of the
// table takes many chunks) and, until stdin closes, opens connections to
// a listener that accepts them a moment later and closes them: each one
// sits in the accept queue without an inode, then gets one. It is the
// body of roleAcceptChurn.
func acceptChurn(idle int) error {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 64)
	var acceptor, workers sync.WaitGroup
	acceptor.Go(func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	})
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range idle {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			return err
		}
		held = append(held, c, <-accepted)
	}
	// Accepted connections wait a millisecond each before being accepted
	// and live 5 ms after; clients hold theirs 10 ms.
	var stop atomic.Bool
	workers.Go(func() { // accept slowly: connections wait in the queue
		for c := range accepted {
			time.Sleep(50 * time.Microsecond)
			go func() { time.Sleep(2 * time.Millisecond); c.Close() }()
		}
	})
	for range 128 {
		workers.Go(func() {
			for !stop.Load() {
				if c, err := net.Dial("tcp4", ln.Addr().String()); err == nil {
					time.Sleep(20 * time.Millisecond)
					c.(*net.TCPConn).SetLinger(0) // no TIME-WAIT pile-up
					c.Close()
				}
			}
		})
	}
	fmt.Println("READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
	stop.Store(true)
	ln.Close()
	acceptor.Wait()
	workers.Wait()
	return nil
}

// childEhash is the established-hash size of the namespace the churn runs
// in (tcp_child_ehash_entries, the smallest the kernel allows): with many
// sockets to a bucket, the kernel's walks, which resume each chunk at a
// bucket and an index in it, see a socket twice far more often than with
// the host's hash.
const childEhash = 128

// TestAcceptChurnUniqueKeys polls the table of a namespace in which
// connections are accepted without pause, with each source: no answer
// holds two rows with one Key, although the kernel's walks repeat rows
// (logged). A repeat whose inode changed in between (a connection seen in
// the accept queue, without an inode, and again accepted, with one) is
// rare here (one in a few hundred reads of /proc/net/tcp); the crafted
// text of TestProcNetDuplicateTuple shows it deterministically.
func TestAcceptChurnUniqueKeys(t *testing.T) {
	outer := netnstest.NewForTest(t, "tcptable-churn")
	set := fmt.Sprintf("echo %d > /proc/sys/net/ipv4/tcp_child_ehash_entries", childEhash)
	if out, err := outer.Exec("sh", "-c", set).CombinedOutput(); err != nil {
		testenv.SkipOrFail(t, "no per-namespace established hash size (Linux 6.1+): %v: %s", err, out)
	}
	// The churn runs in a namespace made inside the outer one, which
	// gets the small hash.
	cmd := outer.Exec("unshare", "--net", "sh", "-c", `ip link set lo up && exec "$0" -test.run=^$`, os.Args[0])
	stdin, stdout, err := netnstest.StartPiped(cmd, envRole+"="+roleAcceptChurn)
	require.NoError(t, err)
	defer netnstest.Stop(cmd, stdin)
	line := make([]byte, 64)
	n, err := stdout.Read(line)
	require.NoError(t, err)
	require.Equal(t, "READY", strings.TrimSpace(string(line[:n])))
	ns := fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)
	// The kernel's own walk repeats rows under this churn: count them in
	// /proc/PID/net/tcp, read as the provider reads it.
	same, changed := rawRepeats(t, cmd.Process.Pid, 100)
	t.Logf("/proc/net/tcp read 100 times: %d rows repeated with the same inode, %d with another (accepted in between)", same, changed)

	for _, src := range []linux.Source{linux.SourceProcNet, linux.SourceNetlink} {
		t.Run(src.String(), func(t *testing.T) {
			p := newOrSkip(t, linux.WithSource(src), linux.WithNetNS(ns))
			defer p.Close()
			dups, rows := 0, 0
			const polls = 200
			for range polls {
				got, err := p.Table(context.Background(), tcptable.Query{Owners: tcptable.OwnerNone})
				if err != nil {
					require.ErrorIs(t, err, tcptable.ErrInconsistent)
				}
				rows += len(got)
				seen := make(map[tcptable.Key]bool, len(got))
				for _, c := range got {
					if seen[c.Key()] {
						dups++
					}
					seen[c.Key()] = true
				}
			}
			t.Logf("%v: %d rows in %d polls, %d duplicate keys", src, rows, polls, dups)
			assert.Zero(t, dups, "rows sharing a Key")
		})
	}
}

// rawRepeats reads pid's /proc/PID/net/tcp reads times and counts the
// address pairs a read returned twice, with the same inode and with
// another one.
func rawRepeats(t *testing.T, pid, reads int) (same, changed int) {
	t.Helper()
	for range reads {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/tcp", pid))
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		seen := map[string]string{}
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			if len(fl) < 10 || fl[0] == "sl" {
				continue
			}
			k := fl[1] + " " + fl[2]
			if ino, ok := seen[k]; ok {
				if ino == fl[9] {
					same++
				} else {
					changed++
				}
			}
			seen[k] = fl[9]
		}
		f.Close()
	}
	return same, changed
}
