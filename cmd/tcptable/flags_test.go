package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// runUsage runs the command with args and checks that it is a usage error:
// exit 2, one stderr line holding want, nothing on stdout, no Table call.
func runUsage(t *testing.T, args []string, want string) {
	t.Helper()
	p := mock.New(linuxRows()...)
	a, stdout, stderr := testApp(p)
	assert.Equal(t, exitUsage, a.run(context.Background(), args), "args %q", args)
	assert.Empty(t, stdout.String())
	assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one line: %q", stderr.String())
	assert.Contains(t, stderr.String(), want, "args %q", args)
	assert.Empty(t, p.Queries(), "a bad command line reads nothing")
}

// TestEmptyValues: an empty value is an error, never "no condition"
// (tcptable --pid "$(pgrep notrunning)" must not list the whole host).
func TestEmptyValues(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--pid", ""}, "empty --pid: want a process ID"},
		{[]string{"--pid="}, "empty --pid: want a process ID"},
		{[]string{"-pid", ""}, "empty --pid"},
		{[]string{"--port="}, "empty --port: want a port number"},
		{[]string{"--port", "", "-l"}, "empty --port"},
		{[]string{"--state="}, "empty --state: want a TCP state"},
		{[]string{"--state", "LISTEN", "--state", ""}, "empty --state"},
		{[]string{"--process="}, "empty --process: want a process name"},
		{[]string{"--process", ""}, "empty --process"},
		{[]string{"--sort="}, "empty --sort: want a column name"},
		{[]string{"--watch="}, `bad --watch interval ""`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) { runUsage(t, tt.args, tt.want) })
	}
}

// TestGivenTwice: a flag that takes one value refuses a second one instead
// of keeping the last; --state adds up.
func TestGivenTwice(t *testing.T) {
	for _, tt := range []struct{ args, want string }{
		{"--port 80 --port 443", `--port given twice ("80", then "443"): give it once`},
		{"--port=80 --port=80", `--port given twice ("80", then "80")`},
		{"--pid 1 --pid 2", `--pid given twice ("1", then "2")`},
		{"-pid 1 --pid 2", `--pid given twice`},
		{"--process nginx --process sshd", `--process given twice ("nginx", then "sshd")`},
		{"--sort pid --sort -state", `--sort given twice ("pid", then "-state")`},
		{"--watch --watch 2s", `--watch given twice (alone, then "2s")`},
		{"--watch=1s --watch", `--watch given twice ("1s", then alone)`},
	} {
		t.Run(tt.args, func(t *testing.T) { runUsage(t, strings.Fields(tt.args), tt.want) })
	}

	o, err := parseArgs(strings.Fields("--state LISTEN --state estab,time-wait -l -l --listening -4 -4"))
	require.NoError(t, err)
	assert.Equal(t, []tcptable.State{tcptable.StateListen, tcptable.StateEstablished, tcptable.StateTimeWait}, o.query.States,
		"--state given twice: the states add up")
	assert.Equal(t, tcptable.ClassListeners, o.query.Class, "a boolean given twice changes nothing")
	assert.Equal(t, tcptable.IPv4, o.query.Family)
}

// TestUDP: -u is refused for what it is, alone or in a cluster, naming it.
func TestUDP(t *testing.T) {
	for _, tt := range []struct{ args, want string }{
		{"-tulpn", "-u in -tulpn: UDP is not supported: tcptable lists TCP endpoints only (drop the u)"},
		{"-ul", "-u in -ul: UDP is not supported"},
		{"-l -tun", "-u in -tun: UDP is not supported"},
		{"-u", "-u: UDP is not supported: tcptable lists TCP endpoints only"},
		{"--udp", "--udp: UDP is not supported"},
		{"-tulx", "unknown flag -tulx"}, // x is no flag: the cluster is not flags
	} {
		t.Run(tt.args, func(t *testing.T) { runUsage(t, strings.Fields(tt.args), tt.want) })
	}
	o, err := parseArgs([]string{"--process", "-tulpn"})
	require.NoError(t, err, "a value is never read as flags")
	assert.Equal(t, "-tulpn", o.query.Process)
}

// TestUsageListsEveryFlag: --help is built from flagDefs, so every name of
// every flag is in it, and its lines fit a terminal.
func TestUsageListsEveryFlag(t *testing.T) {
	help := map[cmdSet]string{cmdList: cmdList.help(), cmdKill: cmdKill.help(), cmdServe: cmdServe.help()}
	for _, d := range flagDefs {
		var text string
		for c, h := range help {
			if d.helpedBy(c) {
				text += h
			}
		}
		require.NotEmpty(t, text, "flag %v is in no command's help", d.names)
		for _, n := range d.names {
			dashes := "--"
			if len(n) == 1 {
				dashes = "-"
			}
			assert.Contains(t, text, " "+dashes+n, "flag %s", n)
		}
		assert.NotEmpty(t, d.help, "flag %v has no help", d.names)
		if d.kind == valueFlag || d.kind == listFlag {
			assert.NotEmpty(t, d.empty, "flag %v: what its value should be, for the error an empty one gives", d.names)
		}
	}
	for cmd, text := range help {
		for i, line := range strings.Split(text, "\n") {
			assert.LessOrEqual(t, len([]rune(line)), 80, "%q help line %d is too long: %q", cmd, i+1, line)
		}
	}
	assert.NotContains(t, help[cmdList], "--dry-run  ", "kill's own flags are not the listing's")
	assert.NotContains(t, help[cmdList], "--listen ADDR  ", "nor serve's")
	assert.Contains(t, help[cmdServe], "--listen ADDR", "serve's help lists its flags")
	assert.NotContains(t, help[cmdServe], "--port", "and not the listing's, which it does not take")
	assert.Equal(t, "al46tnrpHishV", shortBools, "the combinable one-letter booleans, from flagDefs")
}
