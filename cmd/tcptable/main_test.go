package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files with the current output")

var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

// linuxRows is a fixed table as the Linux provider would report it: no
// creation times, a shared listener, a kernel-owned TIME-WAIT row, a row
// whose owner is hidden, an IPv6 link-local row with a zone.
func linuxRows() []tcptable.Connection {
	ap := netip.MustParseAddrPort
	sshd := tcptable.Module{Name: "sshd", Path: "/usr/sbin/sshd"}
	nginx := tcptable.Module{Name: "nginx", Path: "/usr/sbin/nginx"}
	return []tcptable.Connection{
		{State: tcptable.StateListen, Local: ap("0.0.0.0:22"), Remote: ap("0.0.0.0:0"), PID: 812, Module: sshd,
			OSState: 10, ModuleSource: tcptable.SourceProcfs, Socket: 1001, HasUID: true},
		{State: tcptable.StateListen, Local: ap("[::]:22"), Remote: ap("[::]:0"), PID: 812, Module: sshd,
			OSState: 10, ModuleSource: tcptable.SourceProcfs, Socket: 1002, HasUID: true},
		{State: tcptable.StateListen, Local: ap("127.0.0.1:8080"), Remote: ap("0.0.0.0:0"), PID: 4242, OtherPIDs: []uint32{4243, 4244},
			Module: nginx, OSState: 10, ModuleSource: tcptable.SourceProcfs, Socket: 2001, UID: 33, HasUID: true},
		{State: tcptable.StateEstablished, Local: ap("127.0.0.1:8080"), Remote: ap("127.0.0.1:51234"), PID: 4243,
			Module: nginx, OSState: 1, ModuleSource: tcptable.SourceProcfs, Socket: 2002, UID: 33, HasUID: true},
		{State: tcptable.StateEstablished, Local: ap("127.0.0.1:51234"), Remote: ap("127.0.0.1:8080"), PID: 5000,
			Module: tcptable.Module{Name: "curl", Path: "/usr/bin/curl"}, OSState: 1, ModuleSource: tcptable.SourceProcfs, Socket: 3001, UID: 1000, HasUID: true},
		{State: tcptable.StateTimeWait, Local: ap("10.0.0.5:44321"), Remote: ap("93.184.216.34:443"),
			OSState: 6, OwnerStatus: tcptable.OwnerKernel, ModuleStatus: tcptable.OwnerKernel},
		{State: tcptable.StateEstablished, Local: ap("10.0.0.5:40000"), Remote: ap("140.82.112.3:443"),
			OSState: 1, OwnerStatus: tcptable.OwnerPermissionDenied, ModuleStatus: tcptable.OwnerPermissionDenied, Socket: 4001, UID: 1001, HasUID: true},
		{State: tcptable.StateCloseWait, Local: ap("[fe80::1%eth0]:5353"), Remote: ap("[fe80::2%eth0]:40001"), PID: 600,
			Module: tcptable.Module{Name: "avahi-daemon"}, OSState: 8, ModuleSource: tcptable.SourceProcfs, Socket: 5001, Interface: 2, HasUID: true, UID: 105},
	}
}

// windowsRows is a fixed table as the Windows provider would report it,
// with creation times and the raw OwningModuleInfo.
func windowsRows() []tcptable.Connection {
	ap := netip.MustParseAddrPort
	info := [16]uint64{0x1234, 0x5678}
	return []tcptable.Connection{
		{State: tcptable.StateListen, Local: ap("0.0.0.0:135"), Remote: ap("0.0.0.0:0"), PID: 1004, OSState: 2,
			Module:       tcptable.Module{Name: "RpcSs", Path: `C:\Windows\system32\svchost.exe`},
			ModuleSource: tcptable.SourceOwnerModule, Created: t0.Add(-48 * time.Hour), OwningModuleInfo: &info},
		{State: tcptable.StateEstablished, Local: ap("192.168.1.10:49700"), Remote: ap("52.1.2.3:443"), PID: 7788, OSState: 5,
			Module:       tcptable.Module{Name: "chrome.exe", Path: `C:\Program Files\Google\Chrome\Application\chrome.exe`},
			ModuleSource: tcptable.SourceOwnerModule, Created: t0.Add(-90 * time.Second)},
		{State: tcptable.StateTimeWait, Local: ap("192.168.1.10:49650"), Remote: ap("52.1.2.3:443"), OSState: 11,
			OwnerStatus: tcptable.OwnerKernel, ModuleStatus: tcptable.OwnerKernel},
	}
}

// fakeLookup resolves a few fixed addresses, like /etc/hosts would.
func fakeLookup(_ context.Context, addr string) ([]string, error) {
	switch addr {
	case "127.0.0.1":
		return []string{"localhost."}, nil
	case "93.184.216.34":
		return []string{"example.com."}, nil
	}
	return nil, errors.New("no such host")
}

// testApp returns an app wired to p, a fake resolver, a clock that
// advances a second a reading from t0, UTC, and buffers for its output.
func testApp(p tcptable.Provider) (*app, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	now := t0
	return &app{
		stdout:         &stdout,
		stderr:         &stderr,
		newProvider:    func() (tcptable.Provider, error) { return p, nil },
		lookup:         fakeLookup,
		resolveTimeout: time.Second,
		now:            func() time.Time { now = now.Add(time.Second); return now },
		tz:             time.UTC,
	}, &stdout, &stderr
}

// hidden is the stderr line about n of total owners hidden, as this
// process would print it.
func hidden(n, total int) string { return hiddenAs(n, total, os.Geteuid() == 0) }

// hiddenAs is that line as a process that is (or is not) root prints it.
func hiddenAs(n, total int, root bool) string {
	return fmt.Sprintf("tcptable: owners of %d of %d endpoints are hidden: permission denied (%s)\n", n, total, privilegeHint(runtime.GOOS, root))
}

// golden compares got with testdata/name.golden, or rewrites the file with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./cmd/tcptable -update")
	assert.Equal(t, string(want), string(got), "output differs from %s; run with -update if the change is intended", path)
}

func TestGolden(t *testing.T) {
	hiddenNote := hidden(1, 8)
	tests := []struct {
		name    string
		rows    func() []tcptable.Connection
		args    string
		stderr  string
		queries tcptable.Query // the Query the provider must receive
	}{
		{name: "table", rows: linuxRows, stderr: hiddenNote},
		{name: "listen", rows: linuxRows, args: "-ltn", queries: tcptable.Query{Class: tcptable.ClassListeners}},
		{name: "json", rows: linuxRows, args: "--json", stderr: hiddenNote},
		{name: "ndjson", rows: linuxRows, args: "--ndjson", stderr: hiddenNote},
		{name: "csv", rows: linuxRows, args: "--csv", stderr: hiddenNote},
		{name: "summary", rows: linuxRows, args: "--summary", queries: tcptable.Query{Owners: tcptable.OwnerNone}},
		{name: "summary-json", rows: linuxRows, args: "-s --json", queries: tcptable.Query{Owners: tcptable.OwnerNone}},
		{name: "summary-csv", rows: linuxRows, args: "-s --csv", queries: tcptable.Query{Owners: tcptable.OwnerNone}},
		// --pid and --process are applied after the owners are resolved, so
		// the provider sees the query without them (and Owners raised to
		// what they need); the hidden row might be process 812's.
		{name: "summary-pid", rows: linuxRows, args: "-s --pid 812", stderr: hiddenNote[:len(hiddenNote)-1] + "; they may match --pid 812\n",
			queries: tcptable.Query{Owners: tcptable.OwnerPIDs}},
		{name: "sort-pid", rows: linuxRows, args: "--sort -pid", stderr: hiddenNote},
		{name: "sort-state", rows: linuxRows, args: "--sort state", stderr: hiddenNote},
		{name: "filter-port", rows: linuxRows, args: "--port 8080", queries: tcptable.Query{Port: 8080}},
		{name: "filter-state", rows: linuxRows, args: "-4 --state estab,TIME_WAIT", stderr: hidden(1, 4),
			queries: tcptable.Query{Family: tcptable.IPv4, States: []tcptable.State{tcptable.StateEstablished, tcptable.StateTimeWait}}},
		{name: "filter-owner", rows: linuxRows, args: "-6 --pid 600 --process AVAHI-DAEMON",
			queries: tcptable.Query{Family: tcptable.IPv6}},
		{name: "no-header", rows: linuxRows, args: "-H -l", queries: tcptable.Query{Class: tcptable.ClassListeners}},
		{name: "csv-no-header", rows: linuxRows, args: "--csv --no-header -4", stderr: hidden(1, 6),
			queries: tcptable.Query{Family: tcptable.IPv4}},
		{name: "resolve", rows: linuxRows, args: "-r", stderr: hiddenNote},
		{name: "windows", rows: windowsRows},
		{name: "windows-json", rows: windowsRows, args: "--json"},
		{name: "windows-csv", rows: windowsRows, args: "--csv --sort=-created"},
		{name: "empty", rows: func() []tcptable.Connection { return nil }},
		{name: "empty-json", rows: func() []tcptable.Connection { return nil }, args: "--json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mock.New(tt.rows()...)
			a, stdout, stderr := testApp(p)
			code := a.run(context.Background(), strings.Fields(tt.args))
			assert.Equal(t, exitOK, code, "stderr: %s", stderr)
			assert.Equal(t, tt.stderr, stderr.String())
			golden(t, tt.name, stdout.Bytes())
			if qs := p.Queries(); assert.Len(t, qs, 1) {
				assert.Equal(t, tt.queries, qs[0], "the filters go to the provider in the Query")
			}
			_, err := p.Table(context.Background(), tcptable.Query{})
			assert.ErrorIs(t, err, tcptable.ErrClosed, "run closes the provider")
		})
	}
}

// TestJSONOutputParses checks that --json is one array of objects with the
// keys the SPEC promises, that --ndjson has the same objects, and that both
// decode back into the rows.
func TestJSONOutputParses(t *testing.T) {
	want := linuxRows()
	var arrays [2][]tcptable.Connection
	for i, args := range []string{"--json", "--ndjson"} {
		a, stdout, _ := testApp(mock.New(want...))
		require.Equal(t, exitOK, a.run(context.Background(), []string{args}))
		if args == "--json" {
			var objs []map[string]any
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &objs))
			require.Len(t, objs, len(want))
			for _, o := range objs {
				for _, k := range []string{"state", "local", "remote", "pid", "process", "path", "created"} {
					assert.Contains(t, o, k)
				}
				assert.Nil(t, o["created"], "Linux rows have no creation time: null")
			}
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &arrays[i]))
			continue
		}
		dec := json.NewDecoder(stdout)
		for dec.More() {
			var c tcptable.Connection
			require.NoError(t, dec.Decode(&c))
			arrays[i] = append(arrays[i], c)
		}
	}
	assert.Equal(t, arrays[0], arrays[1])
	sortRows(want, sortKey{})
	for i := range want {
		want[i].OwnerStatus = arrays[0][i].OwnerStatus // the mock completes these
		want[i].ModuleStatus = arrays[0][i].ModuleStatus
		want[i].StatsStatus = tcptable.StatsNotRequested // and says the query asked for no counters
	}
	assert.Equal(t, want, arrays[0])
}

// TestCSVHeaderIsJSONKeys holds the CSV columns and the JSON keys
// together: without -i the CSV has every key but the stats object (null);
// with -i it flattens the stats object into stats_ columns in its place.
func TestCSVHeaderIsJSONKeys(t *testing.T) {
	for _, withStats := range []bool{false, true} {
		c := windowsRows()[0]
		c.HasUID, c.OtherPIDs, c.FirstSeen = true, []uint32{1}, t0
		c.Module.Service = "svc" // "service" is omitted when empty
		if withStats {
			c.Stats = &tcptable.Stats{Since: t0} // "since" is omitted when zero
		}
		b, err := json.Marshal(c)
		require.NoError(t, err)
		keys := jsonKeys(t, b, "")
		var cols []string
		for _, col := range csvColumns(withStats) {
			cols = append(cols, col.key)
		}
		assert.Equal(t, keys, cols, "with stats: %v", withStats)
	}
}

// jsonKeys returns the keys of the JSON object b in order, with prefix,
// and the keys of a nested object as prefix+key+"_"+nested key; a null
// member that should be an object ("stats" when not requested) is left
// out.
func jsonKeys(t *testing.T, b []byte, prefix string) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	_, err := dec.Token() // {
	require.NoError(t, err)
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		var v json.RawMessage
		require.NoError(t, dec.Decode(&v))
		switch {
		case k == "stats" && string(v) == "null":
		case len(v) > 0 && v[0] == '{':
			keys = append(keys, jsonKeys(t, v, prefix+k.(string)+"_")...)
		default:
			keys = append(keys, prefix+k.(string))
		}
	}
	return keys
}

func TestUsageErrors(t *testing.T) {
	tests := []struct{ args, want string }{
		{"--bogus", "unknown flag --bogus"},
		{"-x", "unknown flag -x"},
		{"-lx", "unknown flag -lx"},
		{"--state NOPE", `bad --state "NOPE"`},
		{"--state LISTEN,", `bad --state ""`},
		{"--port 0", `bad --port "0": want a number in 1..65535`},
		{"--port 65536", `bad --port "65536"`},
		{"--port http", `bad --port "http"`},
		{"--port", "flag --port needs a value"},
		{"--pid 0", `bad --pid "0"`},
		{"--pid -5", `bad --pid "-5"`},
		{"--watch abc", `bad --watch interval "abc"`},
		{"--watch=0", `bad --watch interval "0"`},
		{"--watch 1ns", `bad --watch interval "1ns"`},
		{"--watch -1s", `bad --watch interval "-1s"`},
		{"--watch -5", `bad --watch interval "-5"`},
		{"--watch 25h", `bad --watch interval "25h"`},
		{"--watch 1e9", `bad --watch interval "1e9"`},
		{"--watch NaN", `bad --watch interval "NaN"`},
		{"--sort nope", `bad --sort "nope": want one of state, local, remote, pid`},
		{"--json --csv", "--json, --ndjson and --csv exclude each other"},
		{"--watch --json", "use --ndjson instead of --json"},
		{"--watch --csv", "--watch does not print CSV"},
		{"--watch --sort pid", "--sort orders a table"},
		{"--json=maybe", `flag --json takes no value (got "maybe")`},
		{"extra", `unexpected argument "extra"`},
		{"-- -l", `unexpected argument "-l"`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			p := mock.New(linuxRows()...)
			a, stdout, stderr := testApp(p)
			assert.Equal(t, exitUsage, a.run(context.Background(), strings.Fields(tt.args)))
			assert.Empty(t, stdout.String())
			line := stderr.String()
			assert.Equal(t, 1, strings.Count(line, "\n"), "one line: %q", line)
			assert.True(t, strings.HasPrefix(line, "tcptable: "), line)
			assert.Contains(t, line, tt.want)
			assert.NotContains(t, line, "goroutine")
			assert.Empty(t, p.Queries(), "a bad command line reads nothing")
		})
	}
}

func TestProviderErrors(t *testing.T) {
	t.Run("no provider", func(t *testing.T) {
		a, stdout, stderr := testApp(nil)
		a.newProvider = func() (tcptable.Provider, error) {
			return nil, fmt.Errorf("tcptable/native: plan9: %w", tcptable.ErrNotSupported)
		}
		assert.Equal(t, exitFail, a.run(context.Background(), nil))
		assert.Empty(t, stdout.String())
		assert.Equal(t, "tcptable: tcptable/native: plan9: not supported\n", stderr.String())
	})
	t.Run("table fails", func(t *testing.T) {
		p := mock.New(linuxRows()...)
		p.FailNext(errors.New("netlink: boom"))
		a, stdout, stderr := testApp(p)
		assert.Equal(t, exitFail, a.run(context.Background(), nil))
		assert.Empty(t, stdout.String())
		assert.Equal(t, "tcptable: netlink: boom\n", stderr.String())
	})
	t.Run("inconsistent table is printed with a warning", func(t *testing.T) {
		rows := linuxRows()[:2]
		a, stdout, stderr := testApp(partial{rows: rows})
		assert.Equal(t, exitOK, a.run(context.Background(), []string{"--json"}))
		var got []tcptable.Connection
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &got))
		assert.Len(t, got, 2)
		assert.Contains(t, stderr.String(), "tcptable: warning: ")
		assert.Contains(t, stderr.String(), "changed while it was read")
	})
}

// partial is a provider whose every answer is a partial table with
// ErrInconsistent.
type partial struct{ rows []tcptable.Connection }

func (p partial) Table(context.Context, tcptable.Query) ([]tcptable.Connection, error) {
	return append([]tcptable.Connection(nil), p.rows...), fmt.Errorf("test: %w", tcptable.ErrInconsistent)
}

func (partial) Close() error { return nil }

func TestHelpAndVersion(t *testing.T) {
	for _, args := range []string{"--help", "-h", "-help"} {
		a, stdout, stderr := testApp(nil)
		assert.Equal(t, exitOK, a.run(context.Background(), []string{args}))
		assert.Contains(t, stdout.String(), "Usage: tcptable [flags]")
		assert.Contains(t, stdout.String(), "Examples:\n  tcptable ")
		assert.Empty(t, stderr.String())
	}
	a, stdout, _ := testApp(nil)
	assert.Equal(t, exitOK, a.run(context.Background(), []string{"--version"}))
	assert.Regexp(t, `^tcptable \S+( rev [0-9a-f]+(\+dirty)?)? go\S+ \w+/\w+\n$`, stdout.String())
}

func TestNormalizeArgs(t *testing.T) {
	fs := newFlagSet(&options{}, &rawFlags{}, cmdList)
	tests := []struct{ in, want string }{
		{"-ltnp", "-l -t -n -p"},
		{"-l4", "-l -4"},
		{"-all", "-all"},
		{"--watch 2s --ndjson", "--watch=2s --ndjson"},
		{"--watch --ndjson", "--watch --ndjson"},
		{"-watch 5", "-watch=5"},
		{"--watch -4 -l", "--watch -4 -l"},
		{"--watch -46", "--watch -4 -6"},
		{"--sort -pid -l", "--sort -pid -l"},
		{"--process ltnp", "--process ltnp"},
		{"-s", "-s"},
		{"-- -ltn", "-- -ltn"},
	}
	for _, tt := range tests {
		got, err := normalizeArgs(fs, strings.Fields(tt.in))
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, strings.Join(got, " "), tt.in)
	}
}

func TestParseArgs(t *testing.T) {
	o, err := parseArgs(strings.Fields("-l -6 --state listening,5 --port 443 --pid 7 --process x -r -s --watch 0.5 --ndjson"))
	require.NoError(t, err)
	assert.Equal(t, tcptable.Query{
		Class: tcptable.ClassListeners, Family: tcptable.IPv6,
		States: []tcptable.State{tcptable.StateListen, tcptable.StateEstablished},
		Port:   443, PID: 7, Process: "x",
	}, o.query)
	assert.Equal(t, 500*time.Millisecond, o.watch)
	assert.Equal(t, formatNDJSON, o.format)
	assert.True(t, o.resolve)
	assert.True(t, o.summary)
	assert.Equal(t, tcptable.OwnerModules, o.query.Owners, "--watch --summary prints events with owners")

	o, err = parseArgs([]string{"--watch"})
	require.NoError(t, err)
	assert.Equal(t, defaultInterval, o.watch)
	o, err = parseArgs(strings.Fields("-4 -6 -a"))
	require.NoError(t, err)
	assert.Equal(t, tcptable.Query{}, o.query, "-4 -6 is both families; -a is the default")
}

func TestParseSortKey(t *testing.T) {
	for in, want := range map[string]string{"pid": "pid", "-created": "created", "First-Seen": "first_seen", "os_state": "os_state"} {
		k, err := parseSortKey(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, k.col.key)
		assert.Equal(t, strings.HasPrefix(in, "-"), k.desc)
	}
}

func TestPrivilegeHint(t *testing.T) {
	assert.Contains(t, privilegeHint("windows", false), "Administrator")
	assert.Contains(t, privilegeHint("linux", false), "run as root")
	assert.NotContains(t, privilegeHint("linux", true), "run as root")
}

// BenchmarkOutput measures the command's own cost (sorting and formatting)
// for a 10,000-row table from the mock, per output format.
func BenchmarkOutput(b *testing.B) {
	rows := make([]tcptable.Connection, 10000)
	base := linuxRows()
	for i := range rows {
		rows[i] = base[i%len(base)].Clone()
		rows[i].Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(1024+i))
		rows[i].Socket = uint64(i + 1)
	}
	p := mock.New(rows...)
	for _, args := range []string{"", "--json", "--ndjson", "--csv", "-s"} {
		b.Run(strings.TrimLeft(args, "-")+"_", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a, stdout, _ := testApp(nopClose{p})
				if code := a.run(context.Background(), strings.Fields(args)); code != exitOK {
					b.Fatal(code)
				}
				b.SetBytes(int64(stdout.Len()))
			}
		})
	}
}

// nopClose keeps a shared provider open across runs.
type nopClose struct{ tcptable.Provider }

func (nopClose) Close() error { return nil }

// TestDualStackIPv4: -4 --port P finds a dual-stack listener on [::]:P,
// which accepts IPv4, and not a V6ONLY one.
func TestDualStackIPv4(t *testing.T) {
	ap := netip.MustParseAddrPort
	rows := []tcptable.Connection{
		{State: tcptable.StateListen, Local: ap("[::]:8080"), PID: 1, DualStack: true},
		{State: tcptable.StateListen, Local: ap("[::]:8081"), PID: 1},
	}
	for port, want := range map[string]int{"8080": 1, "8081": 0} {
		a, stdout, _ := testApp(mock.New(rows...))
		require.Equal(t, exitOK, a.run(context.Background(), []string{"-4", "--port", port, "--json"}))
		var got []tcptable.Connection
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &got))
		assert.Len(t, got, want, "port %s: %s", port, stdout)
	}
}
