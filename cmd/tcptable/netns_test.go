package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// Containers of the namespace fixture.
const (
	webContainer = "3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19"
	podOnly      = "pod7b6c5d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e"
)

// nsRows is a host with three network namespaces, as a --all-netns
// provider reports it: the host's, a named one, and a container's
// without a name; the same four-tuple lives in two of them.
func nsRows() []tcptable.Connection {
	ap := netip.MustParseAddrPort
	row := func(ns uint64, name string, st tcptable.State, l, r string, pid uint32, proc, container string) tcptable.Connection {
		c := tcptable.Connection{State: st, Local: ap(l), Remote: ap(r), PID: pid, NetNS: ns, NetNSName: name,
			Container: container, Socket: uint64(pid)*10 + ns%10, OSState: 1, HasUID: true}
		if proc != "" {
			c.Module = tcptable.Module{Name: proc, Path: "/usr/bin/" + proc}
		}
		return c
	}
	return []tcptable.Connection{
		row(4026531840, "", tcptable.StateListen, "0.0.0.0:22", "0.0.0.0:0", 812, "sshd", ""),
		row(4026532300, "blue", tcptable.StateListen, "127.0.0.1:8080", "0.0.0.0:0", 4242, "nginx", ""),
		row(4026532300, "blue", tcptable.StateEstablished, "127.0.0.1:8080", "127.0.0.1:51234", 4242, "nginx", ""),
		row(4026532417, "", tcptable.StateListen, "127.0.0.1:8080", "0.0.0.0:0", 5000, "web", webContainer),
		row(4026532417, "", tcptable.StateEstablished, "127.0.0.1:8080", "127.0.0.1:51234", 5000, "web", webContainer),
		row(4026532417, "", tcptable.StateListen, "[::]:9090", "[::]:0", 5001, "sidecar", podOnly),
	}
}

// nsApp is testApp whose namespace provider is p and records the options.
func nsApp(p tcptable.Provider, got *nsOptions) (*app, *bytes.Buffer, *bytes.Buffer) {
	a, stdout, stderr := testApp(nil)
	a.newProvider = func() (tcptable.Provider, error) { panic("the namespace flags need the namespace provider") }
	a.newNSProvider = func(n nsOptions) (tcptable.Provider, error) { *got = n; return p, nil }
	return a, stdout, stderr
}

func TestAllNetNSGolden(t *testing.T) {
	for _, tt := range []struct{ name, args string }{
		{"allnetns", "--all-netns"},
		{"allnetns-listen", "--all-netns -l --sort process"},
		{"allnetns-csv", "--all-netns --csv"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got nsOptions
			a, stdout, stderr := nsApp(mock.New(nsRows()...), &got)
			require.Equal(t, exitOK, a.run(context.Background(), strings.Fields(tt.args)), stderr.String())
			assert.Equal(t, nsOptions{all: true, oneShot: true}, got)
			assert.Empty(t, stderr.String())
			golden(t, tt.name, stdout.Bytes())
		})
	}
}

// TestAllNetNSJSON: every row keeps its namespace and container keys, and
// the rows of equal four-tuples stay apart.
func TestAllNetNSJSON(t *testing.T) {
	var got nsOptions
	a, stdout, stderr := nsApp(mock.New(nsRows()...), &got)
	require.Equal(t, exitOK, a.run(context.Background(), []string{"--all-netns", "--json"}), stderr.String())
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rows))
	require.Len(t, rows, len(nsRows()))
	byNS := map[float64]int{}
	for _, r := range rows {
		byNS[r["netns"].(float64)]++
		assert.Contains(t, r, "netns_name")
		assert.Contains(t, r, "container")
	}
	assert.Equal(t, map[float64]int{4026531840: 1, 4026532300: 2, 4026532417: 3}, byNS)
	assert.Equal(t, "blue", rows[1]["netns_name"], "sorted by namespace first")
	assert.Equal(t, webContainer, rows[3]["container"])
}

func TestAllNetNSWatch(t *testing.T) {
	rows := nsRows()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &steered{Provider: mock.New(), cancel: cancel, edits: []func(p *mock.Provider){
		func(p *mock.Provider) { p.Set(rows[0], rows[1], rows[3]) },
		func(p *mock.Provider) { p.Add(rows[2], rows[4]) }, // the same tuple opens in two namespaces
		func(p *mock.Provider) { p.Remove(rows[2].Key()) }, // and closes in one
	}}
	var got nsOptions
	a, stdout, stderr := nsApp(p, &got)
	require.Equal(t, exitOK, a.run(ctx, strings.Fields("--all-netns --watch 10ms --poll")), stderr.String())
	golden(t, "allnetns-watch", stdout.Bytes())
}

func TestNetNSFlags(t *testing.T) {
	var got nsOptions
	a, _, stderr := nsApp(mock.New(), &got)
	require.Equal(t, exitOK, a.run(context.Background(), []string{"--netns", "blue", "-l"}), stderr.String())
	assert.Equal(t, nsOptions{netns: "blue", oneShot: true}, got)
	assert.Equal(t, "/run/netns/blue", got.path())
	assert.Equal(t, "/proc/42/ns/net", nsOptions{netns: "/proc/42/ns/net"}.path())
	assert.Equal(t, "./ns", nsOptions{netns: "./ns"}.path())

	for _, tt := range []struct{ args, err string }{
		{"--netns blue --all-netns", "--netns and --all-netns exclude each other"},
		{"--netns ..", `bad --netns ".."`},
		{"--netns", "flag --netns needs a value"},
	} {
		a, stdout, stderr := nsApp(mock.New(), &got)
		assert.Equal(t, exitUsage, a.run(context.Background(), strings.Fields(tt.args)), tt.args)
		assert.Contains(t, stderr.String(), tt.err, tt.args)
		assert.Empty(t, stdout.String())
	}

	// Without the flags the OS's own provider is used.
	a, _, _ = testApp(mock.New())
	a.newNSProvider = func(nsOptions) (tcptable.Provider, error) {
		t.Fatal("namespace provider without the flags")
		return nil, nil
	}
	assert.Equal(t, exitOK, a.run(context.Background(), []string{"-l"}))
}

func TestNetNSCells(t *testing.T) {
	assert.Equal(t, "blue", netnsCell(&tcptable.Connection{NetNS: 1, NetNSName: "blue"}))
	assert.Equal(t, "4026532417", netnsCell(&tcptable.Connection{NetNS: 4026532417}))
	assert.Equal(t, "-", netnsCell(&tcptable.Connection{}))
	assert.Equal(t, `"a\x1b[31m"`, netnsCell(&tcptable.Connection{NetNS: 1, NetNSName: "a\x1b[31m"}), "escaped")
	assert.Equal(t, "3f1c2a9e8b7d", containerCell(&tcptable.Connection{Container: webContainer}))
	assert.Equal(t, "pod7b6c5d1e", containerCell(&tcptable.Connection{Container: podOnly}))
	assert.Equal(t, "-", containerCell(&tcptable.Connection{}))
}

// TestNetNSFlagsElsewhere: on an OS without network namespaces the flags
// are a bad command line (exit 2) whose error names the OS and wraps
// tcptable.ErrNotSupported.
func TestNetNSFlagsElsewhere(t *testing.T) {
	err := netnsSupported()
	if runtime.GOOS == "linux" {
		require.NoError(t, err)
		return
	}
	require.ErrorIs(t, err, tcptable.ErrNotSupported)
	assert.Contains(t, err.Error(), runtime.GOOS)
	for _, args := range []string{"--all-netns", "--netns blue"} {
		a, _, stderr := testApp(mock.New())
		a.newNSProvider = newNSProvider
		assert.Equal(t, exitUsage, a.run(context.Background(), strings.Fields(args)))
		assert.Contains(t, stderr.String(), "not supported", args)
	}
}
