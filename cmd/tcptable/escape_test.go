package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                  "nginx",
		"Web Content":            "Web Content",
		"café-ü":                 "café-ü",
		`C:\Windows\svchost.exe`: `C:\Windows\svchost.exe`,
		"\uFFFD":                 "\uFFFD", // a real replacement character is text
		"":                       "",
		"evil\x1b[2Jname":        `"evil\x1b[2Jname"`,
		"a\rb\nc\td":             `"a\rb\nc\td"`,
		"bad\xffutf8":            `"bad\xffutf8"`,
		"abc\u202edcba":          `"abc\u202edcba"`,  // RIGHT-TO-LEFT OVERRIDE
		"x\u2066y\u2069":         `"x\u2066y\u2069"`, // LEFT-TO-RIGHT ISOLATE ... POP
		"nul\x00":                `"nul\x00"`,
		"del\x7f":                `"del\x7f"`,
		"c1\u009b31m":            `"c1\u009b31m"`, // the 8-bit CSI
		`"quoted"`:               `"\"quoted\""`,  // a quote first would pass for an escaped name
	} {
		assert.Equal(t, want, printable(in), "printable(%q)", in)
	}
}

// hostileRows are rows whose names (and zone) try to reach the terminal:
// escape sequences, line breaks, invalid UTF-8, bidi overrides.
func hostileRows() []tcptable.Connection {
	ap := netip.MustParseAddrPort
	names := []string{
		"\x1b]0;pwned\x07\x1b[2J", // set the title, clear the screen
		"fake\rLISTEN 0.0.0.0:22", // overwrite the line
		"two\nlines",
		"\xff\xfe",
		"txt.exe\u202egpj.", // shows as "txt.exe.jpg" reversed
		"tab\tbed",
	}
	var rows []tcptable.Connection
	for i, n := range names {
		rows = append(rows, tcptable.Connection{State: tcptable.StateListen,
			Local: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(9000+i)), PID: uint32(100 + i),
			Module: tcptable.Module{Name: n, Path: "/tmp/" + n}})
	}
	return append(rows, tcptable.Connection{State: tcptable.StateEstablished,
		Local: ap("[fe80::1%ev\x1b[0mil]:22"), Remote: ap("[fe80::2%ev\x1b[0mil]:4000"), PID: 7, Module: tcptable.Module{Name: "ok"}})
}

// assertSafe checks that out holds no byte the terminal would act on:
// valid UTF-8, no control character but the line feed (and the tabs of no
// format here), no bidi or other invisible format character.
func assertSafe(t *testing.T, out string) {
	t.Helper()
	require.True(t, utf8.ValidString(out), "invalid UTF-8 reached the output: %q", out)
	for _, r := range out {
		if r == '\n' {
			continue
		}
		require.True(t, unicode.IsPrint(r), "%U reached the output: %q", r, out)
	}
}

func TestHostileNamesTable(t *testing.T) {
	for _, args := range []string{"", "-l", "-r", "--sort process", "-H"} {
		a, stdout, stderr := testApp(mock.New(hostileRows()...))
		require.Equal(t, exitOK, a.run(context.Background(), strings.Fields(args)), stderr.String())
		out := stdout.String()
		assertSafe(t, out)
		assertSafe(t, stderr.String())
		for _, want := range []string{`"\x1b]0;pwned\a\x1b[2J"`, `"fake\rLISTEN 0.0.0.0:22"`, `"two\nlines"`, `"\xff\xfe"`, `"txt.exe\u202egpj."`, `"tab\tbed"`} {
			if args != "-l" || !strings.Contains(want, "ok") {
				assert.Contains(t, out, want, "args %q", args)
			}
		}
		if args != "-l" {
			assert.Contains(t, out, `["fe80::1%ev\x1b[0mil"]:22`, "a zone is an interface name: escaped too")
		}
		lines := strings.Count(out, "\n")
		want := len(hostileRows()) + 1
		if args == "-l" {
			want--
		}
		if args == "-H" {
			want--
		}
		assert.Equal(t, want, lines, "one line a row, none broken by a name:\n%s", out)
	}
}

func TestHostileNamesWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows := hostileRows()
	p := &steered{Provider: mock.New(), cancel: cancel, edits: []func(*mock.Provider){
		func(p *mock.Provider) {},
		func(p *mock.Provider) { p.Set(rows...) }, // every row opens
		func(p *mock.Provider) { // and changes owner
			for _, c := range rows {
				p.Update(c.Key(), func(c *tcptable.Connection) { c.Module.Name += "\x1b[0m" })
			}
		},
	}}
	a, stdout, stderr := testApp(p)
	require.Equal(t, exitOK, a.run(ctx, []string{"--watch=10ms", "--poll"}), stderr.String())
	out := stdout.String()
	assertSafe(t, out)
	assert.Equal(t, 2*len(rows), strings.Count(out, "\n"), "one line an event:\n%s", out)
	assert.Contains(t, out, ` opened `)
	assert.Contains(t, out, `"two\nlines">"two\nlines\x1b[0m"`)

	// --ndjson keeps JSON's own escaping, which round-trips the names.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	p = &steered{Provider: mock.New(), cancel: cancel, edits: []func(*mock.Provider){
		func(p *mock.Provider) {},
		func(p *mock.Provider) { p.Set(rows[:3]...) },
	}}
	a, stdout, _ = testApp(p)
	require.Equal(t, exitOK, a.run(ctx, []string{"--watch=10ms", "--ndjson", "--poll"}))
	dec := json.NewDecoder(stdout)
	var names []string
	for dec.More() {
		var e tcptable.Event
		require.NoError(t, dec.Decode(&e))
		names = append(names, e.After.Module.Name)
	}
	assert.ElementsMatch(t, []string{rows[0].Module.Name, rows[1].Module.Name, rows[2].Module.Name}, names)
}

// TestCSVInjection: a cell a spreadsheet would run as a formula is
// neutralised, control characters are escaped, and what is left parses
// back to the same number of records and fields.
func TestCSVInjection(t *testing.T) {
	row := linuxRows()[0]
	row.Module = tcptable.Module{Name: "=HYPERLINK(\"http://x\")", Path: "+1+1", Service: "-2-2"}
	row.Container = "@SUM(A1)"
	row.NetNS, row.NetNSName = 4026531840, "\tcmd"
	evil := linuxRows()[3]
	evil.Module.Name = "\rcalc"
	evil.Module.Path = "/bin/ok\x1b[31m"
	evil.NetNS = row.NetNS // the rows sort by namespace first: keep them in address order
	a, stdout, stderr := testApp(mock.New(row, evil))
	require.Equal(t, exitOK, a.run(context.Background(), []string{"--csv"}), stderr.String())
	assertSafe(t, stdout.String())
	recs, err := csv.NewReader(strings.NewReader(stdout.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 3)
	cell := func(r int, key string) string {
		for i, k := range recs[0] {
			if k == key {
				return recs[r][i]
			}
		}
		t.Fatalf("no column %s", key)
		return ""
	}
	assert.Equal(t, `'=HYPERLINK("http://x")`, cell(1, "process"))
	assert.Equal(t, "'+1+1", cell(1, "path"))
	assert.Equal(t, "'-2-2", cell(1, "service"))
	assert.Equal(t, "'@SUM(A1)", cell(1, "container"))
	assert.Equal(t, `"\tcmd"`, cell(1, "netns_name"))
	assert.Equal(t, `"\rcalc"`, cell(2, "process"))
	assert.Equal(t, `"/bin/ok\x1b[31m"`, cell(2, "path"))
	for r := 1; r < len(recs); r++ {
		for i, c := range recs[r] {
			if c != "" {
				assert.NotContains(t, "=+-@\t\r", c[:1], "column %s starts a formula: %q", recs[0][i], c)
			}
		}
	}
}

// TestCSVCellsKeepNumbers: csvCell changes no cell of a number, address,
// time or state, even at the extremes (there are no negative numbers, and
// no address starts with a formula character): only text from the OS.
func TestCSVCellsKeepNumbers(t *testing.T) {
	text := map[string]bool{"process": true, "path": true, "service": true, "netns_name": true, "container": true}
	extreme := tcptable.Connection{
		State: tcptable.State(200), Local: netip.MustParseAddrPort("[::]:65535"), Remote: netip.MustParseAddrPort("[ffff::ffff]:1"),
		PID: math.MaxUint32, OtherPIDs: []uint32{math.MaxUint32}, OSState: math.MaxUint32, Socket: math.MaxUint64,
		UID: math.MaxUint32, HasUID: true, Interface: math.MaxUint32, NetNS: math.MaxUint64, DualStack: true,
		Created:          time.Date(1601, 1, 1, 0, 0, 0, 1, time.UTC),
		FirstSeen:        time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", -12*3600)),
		OwningModuleInfo: &[16]uint64{math.MaxUint64, 0},
		OwnerStatus:      tcptable.OwnerStatus(255), ModuleStatus: tcptable.OwnerPermissionDenied, ModuleSource: tcptable.ModuleSource(255),
		StatsStatus: tcptable.StatsStatus(255),
	}
	rows := append(append(linuxRows(), windowsRows()...), extreme, tcptable.Connection{})
	checked := 0
	for _, c := range columns() {
		if text[c.key] {
			continue
		}
		for i := range rows {
			s := c.text(&rows[i])
			assert.Equal(t, s, csvCell(s), "column %s of row %d", c.key, i)
			checked++
		}
	}
	assert.Greater(t, checked, 100)

	var buf bytes.Buffer
	require.NoError(t, writeCSV(&buf, rows[:1], false, false))
	assert.NotContains(t, buf.String(), "'", "a plain row has no neutralised cell")
}

// TestHiddenOwnersWithFilters: an unprivileged --pid or --process that
// finds nothing says that hidden owners might have matched; one that
// cannot have been hidden says nothing.
func TestHiddenOwnersWithFilters(t *testing.T) {
	for _, tt := range []struct {
		args, stderr string
		rows         int
	}{
		{"--pid 4242", hidden(1, 8)[:len(hidden(1, 8))-1] + "; they may match --pid 4242\n", 1},
		{"--pid 999", hidden(1, 8)[:len(hidden(1, 8))-1] + "; they may match --pid 999\n", 0},
		{"--process nginx -4", hidden(1, 6)[:len(hidden(1, 6))-1] + "; they may match --process nginx\n", 2},
		{"--pid 999 --process x -l", "", 0},    // the hidden row is not a listener
		{"--pid 999 --state time-wait", "", 0}, // the kernel's row: no owner to hide
		{"--process nginx --port 8080", "", 2}, // no hidden row on that port
		{"--pid 999 --json", hidden(1, 8)[:len(hidden(1, 8))-1] + "; they may match --pid 999\n", 0},
	} {
		t.Run(tt.args, func(t *testing.T) {
			a, stdout, stderr := testApp(mock.New(linuxRows()...))
			require.Equal(t, exitOK, a.run(context.Background(), strings.Fields(tt.args)))
			assert.Equal(t, tt.stderr, stderr.String())
			if strings.Contains(tt.args, "--json") {
				assert.Equal(t, "[]\n", stdout.String())
				return
			}
			assert.Equal(t, tt.rows+1, strings.Count(stdout.String(), "\n"), stdout.String())
		})
	}
}
