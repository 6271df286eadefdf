package tcptable

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQueryValidate(t *testing.T) {
	require.NoError(t, Query{}.Validate())
	require.NoError(t, Query{Class: ClassConnections, Family: IPv6, Owners: OwnerNone, States: []State{StateClosed, StateDeleteTCB}}.Validate())
	for name, q := range map[string]Query{
		"Class(7)":       {Class: 7},
		"Family(9)":      {Family: 9},
		"OwnerDetail(9)": {Owners: 9},
		"State(0)":       {States: []State{StateListen, 0}},
		"State(13)":      {States: []State{13}},
	} {
		err := q.Validate()
		require.ErrorIs(t, err, ErrInvalid, name)
		assert.Contains(t, err.Error(), name)
		// A cause that providers wrap after their own prefix: no package name.
		assert.True(t, strings.HasPrefix(err.Error(), "query: invalid input: "), "%q", err)
		assert.NotContains(t, err.Error(), "tcptable", "%q", err)
	}
}

func TestKeyNetNS(t *testing.T) {
	c := Connection{State: StateEstablished, Local: netip.MustParseAddrPort("10.0.0.1:5000"), Remote: netip.MustParseAddrPort("10.0.0.2:80")}
	d := c
	d.NetNS = 4026532000
	assert.NotEqual(t, c.Key(), d.Key(), "equal four-tuples in two namespaces are two connections")
	assert.Equal(t, "netns:4026532000 10.0.0.1:5000 10.0.0.2:80", d.Key().String())
	ev := Diff([]Connection{c}, []Connection{c, d})
	require.Len(t, ev, 1)
	assert.Equal(t, EventOpened, ev[0].Kind)
	assert.Equal(t, d.NetNS, ev[0].After.NetNS)
}

func TestConnectionString(t *testing.T) {
	c := Connection{State: StateEstablished, Local: netip.MustParseAddrPort("127.0.0.1:5000"), Remote: netip.MustParseAddrPort("127.0.0.1:80"),
		PID: 12, OtherPIDs: []uint32{40}, Module: Module{Name: "nginx"}, OwnerStatus: OwnerOK}
	assert.Equal(t, "ESTABLISHED 127.0.0.1:5000 -> 127.0.0.1:80 pid 12,40 (nginx)", c.String())
	c.Module.Name = "evil\x1b[2Jname"
	assert.Equal(t, `ESTABLISHED 127.0.0.1:5000 -> 127.0.0.1:80 pid 12,40 ("evil\x1b[2Jname")`, c.String())
	tw := Connection{State: StateTimeWait, Local: c.Local, Remote: c.Remote, OwnerStatus: OwnerKernel}
	assert.Equal(t, "TIME-WAIT 127.0.0.1:5000 -> 127.0.0.1:80 owner kernel", tw.String())
	// Value receivers: methods work on values returned by functions.
	f := func() Connection { return c }
	assert.Equal(t, c.Key(), f().Key())
	assert.Equal(t, IPv4, f().Family())
	assert.Equal(t, []uint32{12, 40}, f().Owners())
}

func TestEventLostJSON(t *testing.T) {
	e := Event{Kind: EventLost, Lost: 42}
	assert.Equal(t, "lost 42 events", e.String())
	b, err := json.Marshal(e)
	require.NoError(t, err)
	assert.JSONEq(t, `{"time":null,"event":"lost","before":null,"after":null,"lost":42}`, string(b))
	var back Event
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, e, back)
}

func TestStatsStatusText(t *testing.T) {
	for s := StatsUnknown; s <= StatsNotSupported; s++ {
		b, err := s.MarshalText()
		require.NoError(t, err)
		var back StatsStatus
		require.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, s, back)
	}
	assert.Equal(t, "StatsStatus(99)", StatsStatus(99).String())
	var s StatsStatus
	require.ErrorIs(t, s.UnmarshalText([]byte("sleepy")), ErrInvalid)
}

func TestStatsSinceJSON(t *testing.T) {
	since := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	c := Connection{State: StateEstablished, Stats: &Stats{BytesSent: 9, Since: since}, StatsStatus: StatsPartial}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"since":"2026-12-03T10:00:00Z"`)
	assert.Contains(t, string(b), `"stats_status":"partial"`)
	var back Connection
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, c.Stats, back.Stats)
	assert.Equal(t, StatsPartial, back.StatsStatus)
}

// TestStatsJSONEveryField sets every Stats field to a distinct value and
// checks that the JSON object has exactly the documented keys, in order,
// and decodes back to the same Stats (a field added to Stats without a key
// fails here).
func TestStatsJSONEveryField(t *testing.T) {
	var st Stats
	v := reflect.ValueOf(&st).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Interface().(type) {
		case time.Duration:
			f.SetInt(int64(i+1) * int64(time.Millisecond))
		case time.Time:
			f.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
		default:
			f.SetUint(uint64(1000 + i))
		}
	}
	b, err := json.Marshal(Connection{Stats: &st, StatsStatus: StatsPartial})
	require.NoError(t, err)
	var raw struct{ Stats json.RawMessage }
	require.NoError(t, json.Unmarshal(b, &raw))
	dec := json.NewDecoder(bytes.NewReader(raw.Stats))
	_, err = dec.Token()
	require.NoError(t, err)
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, k.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	assert.Equal(t, []string{
		"bytes_sent", "bytes_received", "segments_sent", "segments_received", "retransmits", "rtt_us", "since",
		"bytes_acked", "bytes_retransmitted", "rtt_var_us", "min_rtt_us", "rto_us",
		"mss_bytes", "congestion_window_segments", "slow_start_threshold_segments",
		"unacked_segments", "lost_segments", "unacked_bytes", "not_sent_bytes", "receive_queue_bytes",
		"delivery_rate_bytes_per_sec", "pacing_rate_bytes_per_sec",
		"since_last_send_ms", "since_last_receive_ms", "since_last_ack_ms",
		"busy_time_us", "receive_window_limited_us", "send_buffer_limited_us",
	}, keys)
	assert.Len(t, keys, v.NumField(), "one key per Stats field")
	var back Connection
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, st, *back.Stats)
	assert.Contains(t, string(raw.Stats), `"rtt_us":6000,`, "durations in microseconds")
	assert.Contains(t, string(raw.Stats), `"since_last_send_ms":23,`, "the kernel's millisecond times in milliseconds")
}
