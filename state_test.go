package tcptable_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

func TestStateValuesAndNames(t *testing.T) {
	want := []struct {
		st   tcptable.State
		val  uint8
		name string
	}{
		{tcptable.StateClosed, 1, "CLOSED"},
		{tcptable.StateListen, 2, "LISTEN"},
		{tcptable.StateSynSent, 3, "SYN-SENT"},
		{tcptable.StateSynReceived, 4, "SYN-RECEIVED"},
		{tcptable.StateEstablished, 5, "ESTABLISHED"},
		{tcptable.StateFinWait1, 6, "FIN-WAIT-1"},
		{tcptable.StateFinWait2, 7, "FIN-WAIT-2"},
		{tcptable.StateCloseWait, 8, "CLOSE-WAIT"},
		{tcptable.StateClosing, 9, "CLOSING"},
		{tcptable.StateLastAck, 10, "LAST-ACK"},
		{tcptable.StateTimeWait, 11, "TIME-WAIT"},
		{tcptable.StateDeleteTCB, 12, "DELETE-TCB"},
	}
	for _, w := range want {
		assert.Equal(t, w.val, uint8(w.st), w.name)
		assert.Equal(t, w.name, w.st.String())
		assert.True(t, w.st.Valid(), w.name)
		// Every canonical name, any case, and the decimal value parse back.
		for _, in := range []string{w.name, strings.ToLower(w.name), fmt.Sprint(w.val), " " + w.name + " "} {
			got, err := tcptable.ParseState(in)
			require.NoError(t, err, "%q", in)
			assert.Equal(t, w.st, got, "%q", in)
		}
	}
}

func TestParseStateSpellings(t *testing.T) {
	cases := map[string]tcptable.State{
		// underscore forms of the canonical names
		"SYN_SENT": tcptable.StateSynSent, "SYN_RECEIVED": tcptable.StateSynReceived,
		"FIN_WAIT_1": tcptable.StateFinWait1, "FIN_WAIT_2": tcptable.StateFinWait2,
		"CLOSE_WAIT": tcptable.StateCloseWait, "LAST_ACK": tcptable.StateLastAck,
		"TIME_WAIT": tcptable.StateTimeWait, "DELETE_TCB": tcptable.StateDeleteTCB,
		// MIB names
		"MIB_TCP_STATE_CLOSED": tcptable.StateClosed, "MIB_TCP_STATE_LISTEN": tcptable.StateListen,
		"MIB_TCP_STATE_SYN_SENT": tcptable.StateSynSent, "MIB_TCP_STATE_SYN_RCVD": tcptable.StateSynReceived,
		"MIB_TCP_STATE_ESTAB": tcptable.StateEstablished, "MIB_TCP_STATE_FIN_WAIT1": tcptable.StateFinWait1,
		"MIB_TCP_STATE_FIN_WAIT2": tcptable.StateFinWait2, "MIB_TCP_STATE_CLOSE_WAIT": tcptable.StateCloseWait,
		"MIB_TCP_STATE_CLOSING": tcptable.StateClosing, "MIB_TCP_STATE_LAST_ACK": tcptable.StateLastAck,
		"MIB_TCP_STATE_TIME_WAIT": tcptable.StateTimeWait, "MIB_TCP_STATE_DELETE_TCB": tcptable.StateDeleteTCB,
		"mib_tcp_state_estab": tcptable.StateEstablished,
		"ESTAB":               tcptable.StateEstablished, "SYN_RCVD": tcptable.StateSynReceived,
		// Linux kernel, ss, netstat
		"SYN_RECV": tcptable.StateSynReceived, "SYN-RECV": tcptable.StateSynReceived,
		"NEW_SYN_RECV": tcptable.StateSynReceived, "FIN_WAIT1": tcptable.StateFinWait1,
		"FIN-WAIT1": tcptable.StateFinWait1, "FIN_WAIT2": tcptable.StateFinWait2,
		"CLOSE": tcptable.StateClosed, "UNCONN": tcptable.StateClosed,
		"BOUND_INACTIVE": tcptable.StateClosed, "close-wait": tcptable.StateCloseWait,
		"time-wait": tcptable.StateTimeWait, "Listen": tcptable.StateListen,
		// Windows netstat
		"LISTENING": tcptable.StateListen, "listening": tcptable.StateListen,
		"SYN_RECEIVED ": tcptable.StateSynReceived,
	}
	for in, want := range cases {
		got, err := tcptable.ParseState(in)
		if assert.NoError(t, err, "%q", in) {
			assert.Equal(t, want, got, "%q", in)
		}
	}
}

func TestParseStateRejectsJunk(t *testing.T) {
	for _, in := range []string{"", " ", "0", "13", "255", "256", "-1", "ESTABLISHED!", "EST", "SYN", "FIN_WAIT",
		"WAIT", "MIB_TCP_STATE_", "MIB_TCP_STATE_BOGUS", "State(5)", "1e1", "0x5", "+5", "LISTEN LISTEN"} {
		_, err := tcptable.ParseState(in)
		if assert.Error(t, err, "%q", in) {
			assert.ErrorIs(t, err, tcptable.ErrInvalidState)
			assert.Contains(t, err.Error(), fmt.Sprintf("%q", in), "the error quotes the input")
		}
	}
}

func TestStateOutOfRange(t *testing.T) {
	for _, v := range []uint8{0, 13, 99, 255} {
		s := tcptable.State(v)
		assert.False(t, s.Valid())
		assert.Equal(t, fmt.Sprintf("State(%d)", v), s.String())
	}
}

func TestStateText(t *testing.T) {
	for v := 0; v <= 255; v++ {
		s := tcptable.State(v)
		b, err := s.MarshalText()
		require.NoError(t, err)
		var back tcptable.State
		require.NoError(t, back.UnmarshalText(b), "%s", b)
		assert.Equal(t, s, back)
	}
	type row struct{ S tcptable.State }
	b, err := json.Marshal(row{tcptable.StateSynReceived})
	require.NoError(t, err)
	assert.JSONEq(t, `{"S":"SYN-RECEIVED"}`, string(b))
	var r row
	require.NoError(t, json.Unmarshal([]byte(`{"S":"MIB_TCP_STATE_ESTAB"}`), &r))
	assert.Equal(t, tcptable.StateEstablished, r.S)
	err = json.Unmarshal([]byte(`{"S":"bogus"}`), &r)
	assert.True(t, errors.Is(err, tcptable.ErrInvalidState), "%v", err)
	for _, bad := range []string{"State(x)", "State(256)", "State(", "State()"} {
		assert.Error(t, r.S.UnmarshalText([]byte(bad)), bad)
	}
}

// BenchmarkParseState parses the spellings the providers and JSON hand
// over: gopsutil's (per row), the canonical names (JSON), an alias.
func BenchmarkParseState(b *testing.B) {
	names := []string{"ESTABLISHED", "TIME_WAIT", "LISTEN", "SYN_RECV", "CLOSE-WAIT", "FIN-WAIT-2", "DELETE_TCB"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := tcptable.ParseState(names[i%len(names)]); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseStateAllocs: parsing a name costs no allocation (gopsutil's
// provider parses one a row, JSON decoding one a row).
func TestParseStateAllocs(t *testing.T) {
	for _, name := range []string{"ESTABLISHED", "time_wait", "SYN-RECV", "MIB_TCP_STATE_ESTAB", " Listening ", "5"} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := tcptable.ParseState(name); err != nil {
				t.Fatal(err)
			}
		})
		assert.Zero(t, allocs, "%q", name)
	}
}
