package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// killed returns the Keys the mock was asked to kill, successfully or not.
func killed(p *mock.Provider) []tcptable.Key {
	var out []tcptable.Key
	for _, k := range p.Kills() {
		out = append(out, k.Conn.Key())
	}
	return out
}

func TestKillGolden(t *testing.T) {
	for _, tt := range []struct {
		name  string
		args  string
		kills int // rows killed
		left  int // rows left of linuxRows' 8
	}{
		{name: "kill-port", args: "kill --port 8080", kills: 3, left: 5},
		{name: "kill-dry-run", args: "kill --port 8080 --dry-run", left: 8},
		{name: "kill-json", args: "kill -l -4 --json", kills: 2, left: 6},
		{name: "kill-csv", args: "kill --state time-wait --csv", kills: 1, left: 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := mock.New(linuxRows()...)
			a, stdout, stderr := testApp(p)
			require.Equal(t, exitOK, a.run(context.Background(), strings.Fields(tt.args)), "stderr: %s", stderr)
			assert.Empty(t, stderr.String())
			golden(t, tt.name, stdout.Bytes())
			assert.Len(t, p.Kills(), tt.kills)
			assert.Len(t, p.Rows(), tt.left)
		})
	}
}

// TestKillPrintsWhatItEnded: the rows printed are exactly those ended.
func TestKillPrintsWhatItEnded(t *testing.T) {
	p := mock.New(linuxRows()...)
	a, stdout, _ := testApp(p)
	require.Equal(t, exitOK, a.run(context.Background(), []string{"kill", "--port", "8080", "--json"}))
	var rows []tcptable.Connection
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rows))
	var keys []tcptable.Key
	for _, c := range rows {
		keys = append(keys, c.Key())
	}
	assert.ElementsMatch(t, killed(p), keys)
	for _, c := range p.Rows() {
		assert.False(t, tcptable.Query{Port: 8080}.Match(c), "%v left", c)
	}
}

func TestKillRefuses(t *testing.T) {
	for _, args := range []string{"kill", "kill -a", "kill -4 -6", "kill -n -t -p", "kill --dry-run",
		"kill --port 80 --watch", "kill --port 80 --top", "kill --all-netns", "kill --netns blue", "kill --port 80 -s", "kill --port 0", "kill --bogus", "kill --port 80 extra"} {
		t.Run(args, func(t *testing.T) {
			p := mock.New(linuxRows()...)
			a, stdout, stderr := testApp(p)
			assert.Equal(t, exitUsage, a.run(context.Background(), strings.Fields(args)))
			assert.Empty(t, stdout.String())
			assert.Regexp(t, `^tcptable: .+ \(see tcptable kill --help\)\n$`, stderr.String())
			assert.Empty(t, p.Kills())
			assert.Empty(t, p.Queries(), "the table is not even read")
		})
	}
	a, stdout, _ := testApp(mock.New())
	require.Equal(t, exitOK, a.run(context.Background(), []string{"kill", "--help"}))
	assert.Equal(t, killUsageText(), stdout.String())
}

func TestKillNoneMatched(t *testing.T) {
	p := mock.New(linuxRows()...)
	a, stdout, stderr := testApp(p)
	assert.Equal(t, exitFail, a.run(context.Background(), []string{"kill", "--port", "9", "--json"}))
	assert.Equal(t, "[]\n", stdout.String())
	assert.Equal(t, "tcptable: kill: no connection matched\n", stderr.String())
	a, _, _ = testApp(p)
	assert.Equal(t, exitFail, a.run(context.Background(), []string{"kill", "--port", "9", "--dry-run"}))
}

// TestKillFailures: a failed kill is printed on stderr, escaped, with its
// reason; the others still end; the exit status is 1.
func TestKillFailures(t *testing.T) {
	p := mock.New(linuxRows()...)
	p.Update(linuxRows()[2].Key(), func(c *tcptable.Connection) { c.Module.Name = "ngi\x1b[2Jnx" })
	p.FaultKillNext(mock.KillFault{Err: fmt.Errorf("denied\r\x07: %w", tcptable.ErrPermission)})
	a, stdout, stderr := testApp(p)
	assert.Equal(t, exitFail, a.run(context.Background(), []string{"kill", "--port", "8080", "--ndjson"}))
	assert.Len(t, p.Kills(), 3)
	assert.Equal(t, 2, strings.Count(stdout.String(), "\n"), "the two rows ended: %s", stdout)
	assert.Equal(t, `tcptable: kill LISTEN 127.0.0.1:8080 -> 0.0.0.0:0 pid 4242,4243,4244 ("ngi\x1b[2Jnx"): "denied\r\a: permission denied"`+"\n",
		stderr.String())
	assert.NotContains(t, stderr.String(), "\x1b", "nothing reaches the terminal unescaped")
}

// TestKillAlreadyGone: killing one end of a loopback pair resets the
// other, whose kill then finds nothing; that is noted, not a failure.
func TestKillAlreadyGone(t *testing.T) {
	p := mock.New()
	pr, err := p.Dial("tcp4")
	require.NoError(t, err)
	a, stdout, stderr := testApp(p)
	port := strconv.Itoa(int(pr.Server().Port()))
	require.Equal(t, exitOK, a.run(context.Background(), []string{"kill", "--port", port, "--ndjson"}), stderr.String())
	assert.Equal(t, 1, strings.Count(stdout.String(), "\n"))
	assert.Regexp(t, `^tcptable: kill ESTABLISHED 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ pid \d+ \(.+\): already gone\n$`, stderr.String())
	assert.Empty(t, p.Rows())
}

// notKiller is a provider that cannot end connections.
type notKiller struct{ tcptable.Provider }

func TestKillNotSupported(t *testing.T) {
	a, stdout, stderr := testApp(notKiller{mock.New(linuxRows()...)})
	assert.Equal(t, exitFail, a.run(context.Background(), []string{"kill", "--port", "22"}))
	assert.Empty(t, stdout.String())
	assert.Contains(t, stderr.String(), "cannot end connections")
	a, stdout, _ = testApp(notKiller{mock.New(linuxRows()...)})
	assert.Equal(t, exitOK, a.run(context.Background(), []string{"kill", "--port", "22", "--dry-run"}), "a dry run kills nothing")
	assert.Contains(t, stdout.String(), "sshd")
}

// TestKillCancelled: once the context ends, the rows left are not tried.
func TestKillCancelled(t *testing.T) {
	p := mock.New(linuxRows()...)
	ctx, cancel := context.WithCancel(context.Background())
	a, _, stderr := testApp(cancelAfterKill{p, cancel})
	assert.Equal(t, exitFail, a.run(ctx, []string{"kill", "--port", "8080"}))
	assert.Len(t, p.Kills(), 1)
	assert.Contains(t, stderr.String(), "stopped (context canceled) before 2 of 3 rows")
}

// cancelAfterKill cancels its context after the first Kill.
type cancelAfterKill struct {
	*mock.Provider
	cancel func()
}

func (c cancelAfterKill) Kill(ctx context.Context, row tcptable.Connection) error {
	defer c.cancel()
	return c.Provider.Kill(ctx, row)
}

// TestKillSkipsClosed: a CLOSED row is noted and not killed (not even in a
// dry run's list); the others are; only CLOSED rows is "nothing to end".
func TestKillSkipsClosed(t *testing.T) {
	rows := linuxRows()
	closed := rows[2] // the listener on 127.0.0.1:8080, killed while its holder keeps it bound
	closed.State, closed.OSState, closed.Socket = tcptable.StateClosed, 13, 2009
	p := mock.New(append(rows, closed)...)
	a, stdout, stderr := testApp(p)
	require.Equal(t, exitOK, a.run(context.Background(), []string{"kill", "--port", "8080", "--ndjson"}), stderr.String())
	assert.Len(t, p.Kills(), 3, "the three rows that are not CLOSED")
	for _, k := range killed(p) {
		assert.NotEqual(t, closed.Key(), k, "the CLOSED row is not killed")
	}
	assert.Equal(t, 3, strings.Count(stdout.String(), "\n"), "the rows ended: %s", stdout)
	assert.NotContains(t, stdout.String(), `"CLOSED"`)
	assert.Equal(t, "tcptable: kill CLOSED 127.0.0.1:8080 -> 0.0.0.0:0 pid 4242,4243,4244 (nginx): skipped: a CLOSED socket has no connection to end\n",
		stderr.String())

	for _, dry := range []bool{false, true} {
		p = mock.New(closed)
		a, stdout, stderr = testApp(p)
		args := []string{"kill", "--state", "closed"}
		if dry {
			args = append(args, "--dry-run")
		}
		assert.Equal(t, exitFail, a.run(context.Background(), args), "dry run %v", dry)
		assert.Empty(t, p.Kills())
		assert.NotContains(t, stdout.String(), "8080", "dry run %v: a CLOSED row is not listed as one to end", dry)
		assert.Contains(t, stderr.String(), "tcptable: kill: nothing to end: the 1 matching rows are CLOSED\n")
	}
}

// TestKillAllNetNS: kill takes --all-netns (and --netns) as the listing
// does: it ends the selected rows of every namespace, each by its own row
// (NetNS included), and the rows it prints name their namespace.
func TestKillAllNetNS(t *testing.T) {
	for _, tt := range []struct {
		args    string
		all     bool
		netns   string
		kills   int
		netnsRe string // the NETNS cell of each printed row
	}{
		{"kill --all-netns --port 8080", true, "", 4, `(blue|4026532417)`},
		{"kill --netns blue --port 8080", false, "blue", 2, `blue`},
	} {
		t.Run(tt.args, func(t *testing.T) {
			rows := nsRows()
			if !tt.all { // the provider of one namespace has its rows only
				rows = slices.DeleteFunc(rows, func(c tcptable.Connection) bool { return c.NetNSName != tt.netns })
			}
			p := mock.New(rows...)
			var got nsOptions
			a, stdout, stderr := nsApp(p, &got)
			require.Equal(t, exitOK, a.run(context.Background(), strings.Fields(tt.args)), stderr.String())
			assert.Equal(t, tt.all, got.all)
			assert.Equal(t, tt.netns, got.netns)
			assert.True(t, got.oneShot)
			ks := p.Kills()
			require.Len(t, ks, tt.kills)
			nss := map[uint64]bool{}
			for _, k := range ks {
				assert.Equal(t, uint16(8080), k.Conn.Local.Port())
				nss[k.Conn.NetNS] = true
			}
			if tt.all {
				assert.Len(t, nss, 2, "the same four-tuple ended in both namespaces that have it")
			}
			lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			require.Len(t, lines, tt.kills+1, stdout.String())
			assert.Regexp(t, `^NETNS +STATE +LOCAL`, lines[0])
			for _, l := range lines[1:] {
				assert.Regexp(t, `^`+tt.netnsRe+` +(LISTEN|ESTABLISHED) +127\.0\.0\.1:`, l)
			}
		})
	}
}
