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
