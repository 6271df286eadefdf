package mock_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// fullRow sets every field Connection has.
func fullRow() tcptable.Connection {
	return tcptable.Connection{
		State: tcptable.StateEstablished, Local: ap("[fe80::1%eth0]:22"), Remote: ap("[fe80::2%eth0]:50000"),
		PID: 10, Created: time.Date(2026, 11, 25, 19, 0, 0, 123, time.UTC),
		Module: tcptable.Module{Name: "sshd", Path: "/usr/sbin/sshd"}, OSState: 1,
		OwnerStatus: tcptable.OwnerOK, ModuleStatus: tcptable.OwnerOK, ModuleSource: tcptable.SourceProcfs,
		OtherPIDs: []uint32{11, 12}, OwningModuleInfo: &[16]uint64{15: 7}, Socket: 99,
		UID: 1000, HasUID: true, Interface: 2, FirstSeen: time.Date(2026, 11, 25, 19, 1, 0, 0, time.UTC),
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	p := mock.New(append(sample(), fullRow())...)
	var buf bytes.Buffer
	require.NoError(t, p.Save(&buf))
	assert.Contains(t, buf.String(), `"state": "ESTABLISHED"`, "the CLI's --json shape")
	assert.Contains(t, buf.String(), `"created": "2026-11-25T19:00:00.000000123Z"`)

	q, err := mock.Load(&buf)
	require.NoError(t, err)
	assert.Equal(t, p.Rows(), q.Rows())
}

func TestReadJSONLines(t *testing.T) {
	in := `{"state":"LISTEN","local":"0.0.0.0:22","remote":"0.0.0.0:0","pid":1}
{"state":"ESTAB","local":"10.0.0.1:22","remote":"10.0.0.2:5000","pid":1,"owner_status":"ok"}
`
	rows, err := mock.ReadJSON(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, tcptable.StateEstablished, rows[1].State, "every spelling ParseState accepts")

	rows, err = mock.ReadJSON(strings.NewReader(" [ ] "))
	require.NoError(t, err)
	assert.Empty(t, rows)

	var buf bytes.Buffer
	require.NoError(t, mock.WriteJSON(&buf, nil))
	assert.Equal(t, "[]\n", buf.String())
}

func TestReadJSONErrors(t *testing.T) {
	row := `"local":"0.0.0.0:22","remote":"0.0.0.0:0"`
	for _, tt := range []struct{ name, in, want string }{
		{"empty", "  ", "empty input"},
		{"not rows", "null", `found 'n'`},
		{"unknown key", `[{"state":"LISTEN",` + row + `,"pidd":1}]`, `row 1: unknown key "pidd"`},
		{"missing key", `[{"state":"LISTEN","local":"0.0.0.0:22"}]`, `row 1: missing key "remote"`},
		{"bad state", `[{"state":"LISTEN",` + row + `},{"state":"LISTENING-ISH",` + row + `}]`, `row 2`},
		{"bad state quoted", `[{"state":"LISTENING-ISH",` + row + `}]`, `"LISTENING-ISH"`},
		{"bad address", `[{"state":"LISTEN","local":"0.0.0.0:99999","remote":"0.0.0.0:0"}]`, `0.0.0.0:99999`},
		{"empty address", `[{"state":"LISTEN","local":"","remote":"0.0.0.0:0"}]`, `local "" and remote "0.0.0.0:0"`},
		{"bad pid", `[{"state":"LISTEN",` + row + `,"pid":-1}]`, `-1`},
		{"bad status", `[{"state":"LISTEN",` + row + `,"owner_status":"fine"}]`, `"fine"`},
		{"duplicate", `[{"state":"LISTEN",` + row + `,"pid":1},{"state":"LISTEN",` + row + `,"pid":1}]`, `row 2: same Key`},
		{"unterminated", `[{"state":"LISTEN",` + row + `}`, `the array is not closed after row 1`},
		{"trailing", `[{"state":"LISTEN",` + row + `}] x`, `unexpected data after row 1`},
		{"not an object", `[1]`, `row 1: want an object, found 1`},
		{"null row", `[null]`, `row 1: want an object, found null`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mock.ReadJSON(strings.NewReader(tt.in))
			require.ErrorIs(t, err, tcptable.ErrInvalid)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// FuzzReadJSON: no input makes ReadJSON panic, and whatever it accepts
// survives WriteJSON and ReadJSON unchanged.
func FuzzReadJSON(f *testing.F) {
	var buf bytes.Buffer
	require.NoError(f, mock.WriteJSON(&buf, append(sample(), fullRow())))
	f.Add(buf.String())
	f.Add(`{"state":"LISTEN","local":"0.0.0.0:22","remote":"0.0.0.0:0"}`)
	f.Add(`[{"state":"5","local":"[::1]:1","remote":"[::1]:2","other_pids":[3,1],"uid":null}]`)
	f.Add(`[{"state":"State(200)","local":"1.2.3.4:5","remote":"6.7.8.9:10","owning_module_info":[1]}]`)
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := mock.ReadJSON(strings.NewReader(in))
		if err != nil {
			require.ErrorIs(t, err, tcptable.ErrInvalid)
			return
		}
		var out bytes.Buffer
		require.NoError(t, mock.WriteJSON(&out, rows))
		again, err := mock.ReadJSON(&out)
		require.NoError(t, err)
		assert.Equal(t, len(rows), len(again))
		for i := range rows {
			assert.Equal(t, rows[i].Key(), again[i].Key())
		}
	})
}

// TestReadJSONModel: rows that break the model are refused, with the row
// named and the offending values quoted as the snapshot spells them; rows
// a real provider reports are accepted.
func TestReadJSONModel(t *testing.T) {
	const good = `{"state":"LISTEN","local":"0.0.0.0:22","remote":"0.0.0.0:0","pid":1}`
	est := func(extra string) string {
		return `{"state":"ESTABLISHED","local":"10.0.0.1:22","remote":"10.0.0.2:5000"` + extra + `}`
	}
	for _, tt := range []struct{ name, row, want string }{
		{"state out of range", `{"state":"State(99)","local":"10.0.0.1:22","remote":"10.0.0.2:5000"}`, `state "State(99)" is not a MIB_TCP_STATE value`},
		{"state zero", `{"state":"0","local":"10.0.0.1:22","remote":"10.0.0.2:5000"}`, `"0" is not a MIB_TCP_STATE value`},
		{"owner status out of range", est(`,"owner_status":"OwnerStatus(77)"`), `owner_status "OwnerStatus(77)" is not an OwnerStatus`},
		{"module status out of range", est(`,"module_status":"OwnerStatus(9)"`), `module_status "OwnerStatus(9)"`},
		{"module source out of range", est(`,"module_source":"ModuleSource(6)"`), `module_source "ModuleSource(6)" is not a ModuleSource`},
		{"stats status out of range", est(`,"stats_status":"StatsStatus(7)"`), `stats_status "StatsStatus(7)"`},
		{"local port 0", `{"state":"LISTEN","local":"0.0.0.0:0","remote":"0.0.0.0:0"}`, `local "0.0.0.0:0" has port 0`},
		{"mixed families", `{"state":"ESTABLISHED","local":"10.0.0.1:22","remote":"[2001:db8::2]:5000"}`, `local "10.0.0.1:22" and remote "[2001:db8::2]:5000" are of different families`},
		{"mapped and plain IPv4", `{"state":"ESTABLISHED","local":"[::ffff:10.0.0.1]:22","remote":"10.0.0.2:5000"}`, `are of different families`},
		{"listener with a remote", `{"state":"LISTEN","local":"0.0.0.0:22","remote":"10.0.0.2:5000"}`, `remote "10.0.0.2:5000": a listener has no remote end`},
		{"remote port 0 with an address", `{"state":"CLOSED","local":"10.0.0.1:22","remote":"10.0.0.2:0"}`, `remote "10.0.0.2:0": want an address and a port`},
		{"remote port without an address", `{"state":"LISTEN","local":"[::]:22","remote":"[::]:80"}`, `remote "[::]:80"`},
		{"connected without a remote", `{"state":"ESTAB","local":"10.0.0.1:22","remote":"0.0.0.0:0"}`, `remote "0.0.0.0:0": a ESTABLISHED row has a remote end`},
		{"time-wait without a remote", `{"state":"TIME_WAIT","local":"10.0.0.1:22","remote":"0.0.0.0:0","owner_status":"kernel"}`, `a TIME-WAIT row has a remote end`},
		{"family contradicts local", est(`,"family":"ipv6"`), `family "ipv6" does not match local "10.0.0.1:22" (ipv4)`},
		{"dual stack on IPv4", `{"state":"LISTEN","local":"0.0.0.0:22","remote":"0.0.0.0:0","dual_stack":true}`, `dual_stack true with local "0.0.0.0:22"`},
		{"dual stack on ::1", `{"state":"LISTEN","local":"[::1]:22","remote":"[::]:0","dual_stack":true}`, `only an IPv6 socket bound to ::`},
		{"pid with a non-ok status", est(`,"pid":42,"owner_status":"kernel"`), `pid 42 with owner_status "kernel": a row with a PID has owner_status "ok"`},
		{"pid not requested", est(`,"pid":42,"owner_status":"not-requested"`), `owner_status "not-requested"`},
		{"ok without a pid", est(`,"owner_status":"ok"`), `owner_status "ok" with pid (missing): a known owner has a PID`},
		{"ok with pid 0", est(`,"pid":0,"owner_status":"ok"`), `owner_status "ok" with pid 0`},
		{"other pids without a pid", est(`,"other_pids":[5]`), `other_pids [5] without a pid`},
		{"other pids unsorted", est(`,"pid":1,"other_pids":[5,3]`), `other_pids [5,3] with pid 1: want further owners in ascending order`},
		{"other pids repeat the pid", est(`,"pid":3,"other_pids":[3,5]`), `other_pids [3,5] with pid 3`},
		{"other pids twice", est(`,"pid":1,"other_pids":[5,5]`), `other_pids [5,5]`},
		{"module with a non-ok status", est(`,"process":"nginx","module_status":"permission-denied"`), `process "nginx", path (missing) with module_status "permission-denied"`},
		{"path with a non-ok status", est(`,"path":"/bin/x","module_status":"exited"`), `path "/bin/x" with module_status "exited"`},
		{"module ok without a module", est(`,"module_status":"ok"`), `module_status "ok" without a process or path`},
		{"module source without a module", est(`,"module_source":"procfs"`), `module_source "procfs" without a process or path`},
		{"netns name without netns", est(`,"netns_name":"blue"`), `netns_name "blue" without a netns`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, in := range []string{"[" + good + "," + tt.row + "]", good + "\n" + tt.row + "\n"} {
				_, err := mock.ReadJSON(strings.NewReader(in))
				require.ErrorIs(t, err, tcptable.ErrInvalid, in)
				assert.Contains(t, err.Error(), "mock: snapshot row 2: ", "the row is named")
				assert.Contains(t, err.Error(), tt.want, "the value is quoted")
			}
		})
	}
	for _, row := range []string{
		good,
		`{"state":"LISTEN","local":"[::]:22","remote":"[::]:0","dual_stack":true,"pid":1,"owner_status":"ok"}`,
		`{"state":"CLOSED","local":"10.0.0.1:22","remote":"0.0.0.0:0"}`,
		`{"state":"CLOSED","local":"10.0.0.1:22","remote":"10.0.0.2:80"}`,
		`{"state":"TIME-WAIT","local":"[::ffff:10.0.0.1]:22","remote":"[::ffff:10.0.0.2]:5000","owner_status":"kernel","module_status":"kernel"}`,
		est(`,"pid":7,"other_pids":[8,9],"process":"sshd","module_status":"unknown","family":"ipv4"`),
		est(`,"owner_status":"permission-denied","module_status":"permission-denied","netns":4026531840,"netns_name":"blue"`),
		`{"state":"ESTABLISHED","local":"[fe80::1%eth0]:22","remote":"[fe80::2%eth0]:5000","pid":1,"owner_status":"ok"}`,
	} {
		_, err := mock.ReadJSON(strings.NewReader(row))
		assert.NoError(t, err, "a row a real provider reports: %s", row)
	}
}
