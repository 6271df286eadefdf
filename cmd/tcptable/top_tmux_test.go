//go:build linux

package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable/internal/nativetest"
	"github.com/tcptable/tcptable/internal/testenv"
)

// topChildEnv carries the command line for TestTopChild.
const topChildEnv = "TCPTABLE_TEST_TOP_ARGS"

// TestTopChild is not a test of its own: when TestTopTmux runs the test
// binary in a tmux pane with topChildEnv set, it runs the command with
// those arguments as the binary would (real terminal, Ctrl-C handling)
// and exits with its status.
func TestTopChild(t *testing.T) {
	args, ok := os.LookupEnv(topChildEnv)
	if !ok {
		t.Skip("runs only as TestTopTmux's child")
	}
	os.Exit(runMain(strings.Fields(args)))
}

// tmux drives a private tmux server (its own socket), so that the test
// neither sees nor disturbs the user's sessions.
type tmux struct {
	t      *testing.T
	bin    string
	socket string
}

func (x *tmux) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command(x.bin, append([]string{"-S", x.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	require.NoError(x.t, err, "tmux %v: %s", args, out)
	return string(out)
}

// screen returns what the pane shows, one string a line.
func (x *tmux) screen() []string {
	return strings.Split(strings.TrimRight(x.run("capture-pane", "-p", "-t", "top"), "\n"), "\n")
}

// await polls the pane until cond accepts it, and fails with the last
// screen after 15 seconds.
func (x *tmux) await(what string, cond func(lines []string) bool) []string {
	x.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		lines := x.screen()
		if cond(lines) {
			return lines
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("%s: not so after 15s; the pane shows:\n%s", what, strings.Join(lines, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTopTmux runs --top in a real terminal (a tmux pane) on this host's
// table, while the test moves bytes over a loopback connection: the
// connection shows with a rate, the view fits the pane and follows a
// resize, and Ctrl-C ends it with the terminal restored (main screen back,
// cursor visible) and exit status 0. Needs tmux (apt-get install tmux).
func TestTopTmux(t *testing.T) {
	nativetest.Skip(t, "--top is covered against the mock")
	bin := testenv.LookPath(t, "tmux", "apt-get install tmux; --top is covered against the mock without it")
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp4", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	server, err := ln.Accept()
	require.NoError(t, err)
	defer server.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, server) }()
	go func() { // about 3 MB/s from client to server
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				if _, err := client.Write(buf); err != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); client.Close(); server.Close(); wg.Wait() }()
	port := ln.Addr().(*net.TCPAddr).Port
	cl := client.LocalAddr().String()

	dir := t.TempDir()
	x := &tmux{t: t, bin: bin, socket: dir + "/tmux.sock"}
	defer exec.Command(bin, "-S", x.socket, "kill-server").Run()
	cmd := fmt.Sprintf("env %s='--top 0.2 --port %d' %s -test.run='^TestTopChild$'; echo EXITED $?; sleep 60",
		topChildEnv, port, os.Args[0])
	x.run("new-session", "-d", "-s", "top", "-x", "100", "-y", "20", cmd)

	sending := regexp.MustCompile(`^ESTABLISHED +` + regexp.QuoteMeta(cl) + ` +\S+ +` + strconv.Itoa(os.Getpid()) + ` +\S+ +([0-9.]+[KMG]?) `)
	lines := x.await("the test's connection sending in the --top view", func(lines []string) bool {
		for _, l := range lines {
			if m := sending.FindStringSubmatch(l); m != nil && m[1] != "0" {
				return true
			}
		}
		return false
	})
	assert.True(t, strings.HasPrefix(lines[0], "tcptable --top  every 200ms"), lines[0])
	for _, l := range lines {
		assert.LessOrEqual(t, len([]rune(l)), 100, "fits the pane: %q", l)
	}

	// After a resize the view must be drawn anew for the new size: the
	// header cut to 50 columns (not wrapped onto the blank line below it),
	// and as many rows as fit in 7 lines (not scrolled off the top).
	clock := regexp.MustCompile(`\d\d:\d\d:\d\d`)
	before := clock.FindString(lines[0])
	x.run("resize-window", "-t", "top", "-x", "50", "-y", "7")
	lines = x.await("the view redrawn for 50x7", func(lines []string) bool {
		now := clock.FindString(lines[0])
		return now != "" && now > before && len(lines) >= 2 && lines[1] == ""
	})
	assert.LessOrEqual(t, len(lines), 7)
	assert.Len(t, []rune(lines[0]), 50, "the header cut to the new width: %q", lines[0])
	for _, l := range lines {
		assert.LessOrEqual(t, len([]rune(l)), 50, "fits the resized pane: %q", l)
	}
	assert.True(t, strings.HasPrefix(lines[len(lines)-1], "ESTABLISHED"), "the last line is a connection: %q", lines)

	x.run("send-keys", "-t", "top", "C-c")
	lines = x.await("--top ended by Ctrl-C", func(lines []string) bool {
		return strings.Contains(strings.Join(lines, "\n"), "EXITED ")
	})
	all := strings.Join(lines, "\n")
	assert.Contains(t, all, "EXITED 0", "Ctrl-C ends --top with success")
	assert.NotContains(t, all, "tcptable --top", "the main screen is back: the view was drawn on the alternate screen")
	assert.Equal(t, "0", strings.TrimSpace(x.run("display-message", "-p", "-t", "top", "#{alternate_on}")), "alternate screen left")
	assert.Equal(t, "1", strings.TrimSpace(x.run("display-message", "-p", "-t", "top", "#{cursor_flag}")), "cursor shown again")
}
