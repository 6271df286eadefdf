package tcptable

import (
	"encoding/json"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConnectionJSONRoundTrip(t *testing.T) {
	info := [16]uint64{1, 2, 3, 15: 0xffffffffffffffff}
	rows := map[string]Connection{
		"zero": {},
		"listener": {
			State: StateListen, OSState: 10,
			Local:  netip.MustParseAddrPort("127.0.0.1:8080"),
			Remote: netip.MustParseAddrPort("0.0.0.0:0"),
			PID:    42, OwnerStatus: OwnerOK,
			Module: Module{Name: "nginx", Path: "/usr/sbin/nginx"}, ModuleStatus: OwnerOK, ModuleSource: SourceProcfs,
			Socket: 123456, UID: 0, HasUID: true, Interface: 3,
			OtherPIDs: []uint32{43, 44},
			FirstSeen: time.Date(2026, 11, 25, 19, 0, 0, 123456789, time.UTC),
		},
		"windows": {
			State:  StateEstablished,
			Local:  netip.MustParseAddrPort("[fe80::1%eth0]:49152"),
			Remote: netip.MustParseAddrPort("[2001:db8::1]:443"),
			PID:    4, OwnerStatus: OwnerOK, OSState: 5,
			Module:       Module{Name: "svchost.exe", Path: `C:\Windows\System32\svchost.exe`},
			ModuleStatus: OwnerOK, ModuleSource: SourceOwnerModule,
			Created:          time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC),
			OwningModuleInfo: &info,
		},
		"time-wait": {
			State: StateTimeWait, Local: netip.MustParseAddrPort("10.0.0.1:1"), Remote: netip.MustParseAddrPort("10.0.0.2:2"),
			OwnerStatus: OwnerKernel, ModuleStatus: OwnerKernel,
		},
		"odd state": {State: State(99), OwnerStatus: OwnerStatus(77), ModuleSource: ModuleSource(200)},
		"dual stack": {
			State: StateListen, Local: netip.MustParseAddrPort("[::]:8080"), Remote: netip.MustParseAddrPort("[::]:0"),
			DualStack: true, PID: 9, OwnerStatus: OwnerOK,
		},
	}
	for name, c := range rows {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(c)
			require.NoError(t, err)
			var got Connection
			require.NoError(t, json.Unmarshal(b, &got), "%s", b)
			assert.Equal(t, c, got, "%s", b)
		})
	}
}

func TestConnectionJSONKeys(t *testing.T) {
	c := Connection{
		State: StateListen, Local: netip.MustParseAddrPort("[::1]:443"), Remote: netip.MustParseAddrPort("[::]:0"),
		PID: 7, Module: Module{Name: "a", Path: "/bin/a"},
	}
	b, err := json.Marshal(&c)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"state": "LISTEN", "local": "[::1]:443", "remote": "[::]:0", "pid": 7,
		"process": "a", "path": "/bin/a", "created": null, "family": "ipv6", "dual_stack": false,
		"os_state": 0, "owner_status": "unknown", "module_status": "unknown", "module_source": "none",
		"other_pids": [], "uid": null, "inode": 0, "interface": 0, "first_seen": null,
		"stats": null, "stats_status": "unknown", "netns": 0, "netns_name": "", "container": ""
	}`, string(b))

	c.Created = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	b, err = json.Marshal(c)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"created":"2026-11-25T20:00:00Z"`)
}

func TestConnectionJSONRoundTripRoundTwo(t *testing.T) {
	c := Connection{
		State: StateEstablished, Local: netip.MustParseAddrPort("10.0.0.1:5000"), Remote: netip.MustParseAddrPort("10.0.0.2:80"),
		Module:      Module{Name: "svchost.exe", Path: `C:\Windows\System32\svchost.exe`, Service: "Dnscache"},
		Stats:       &Stats{BytesSent: 1, BytesReceived: 2, SegmentsSent: 3, SegmentsReceived: 4, Retransmits: 5, RTT: 1500 * time.Microsecond},
		StatsStatus: StatsOK,
		NetNS:       4026531840, NetNSName: "blue", Container: "0123456789ab",
	}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"stats":{"bytes_sent":1,"bytes_received":2,"segments_sent":3,"segments_received":4,"retransmits":5,"rtt_us":1500,"bytes_acked":0,`)
	assert.Contains(t, string(b), `"service":"Dnscache"`)
	var back Connection
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, c, back)
}

func TestConnectionJSONDecodeSpellings(t *testing.T) {
	var c Connection
	require.NoError(t, json.Unmarshal([]byte(`{"state":"listening","local":"127.0.0.1:80","family":"nonsense","extra":1}`), &c))
	assert.Equal(t, StateListen, c.State)
	assert.Equal(t, netip.MustParseAddrPort("127.0.0.1:80"), c.Local)
}

func TestConnectionJSONErrors(t *testing.T) {
	for _, in := range []string{
		`{"state":"BOGUS"}`,
		`{"local":"127.0.0.1"}`,
		`{"remote":"[::1]:99999"}`,
		`{"pid":-1}`,
		`{"created":"yesterday"}`,
		`{"owner_status":"sleepy"}`,
		`{"module_source":"magic"}`,
		`{"owning_module_info":[1,2]}`,
		`[]`,
		`{"state":`,
	} {
		var c Connection
		err := json.Unmarshal([]byte(in), &c)
		if !assert.Error(t, err, in) {
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			var syn *json.SyntaxError // the decoder rejects malformed JSON before UnmarshalJSON runs
			assert.ErrorAs(t, err, &syn, "%s: %v", in, err)
		}
	}
}

// BenchmarkConnectionJSON measures encoding and decoding one typical Linux
// row.
func BenchmarkConnectionJSON(b *testing.B) {
	c := Connection{
		State: StateEstablished, Local: netip.MustParseAddrPort("10.0.0.5:40000"), Remote: netip.MustParseAddrPort("140.82.112.3:443"),
		PID: 4242, OwnerStatus: OwnerOK, Module: Module{Name: "nginx", Path: "/usr/sbin/nginx"}, ModuleStatus: OwnerOK,
		ModuleSource: SourceProcfs, OSState: 1, Socket: 123456, HasUID: true, UID: 33,
	}
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	data, err := json.Marshal(c)
	require.NoError(b, err)
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var back Connection
			if err := json.Unmarshal(data, &back); err != nil {
				b.Fatal(err)
			}
		}
	})
}
