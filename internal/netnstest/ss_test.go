package netnstest

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

func TestParseSS(t *testing.T) {
	out := `LISTEN    0      128      0.0.0.0:2024    0.0.0.0:*
LISTEN    0      128            *:5555          *:*     users:(("python3",pid=21400,fd=3))
ESTAB     0      0          [::1]:46078     [::1]:5555  users:(("Web Content",pid=9,fd=4),("x",pid=7,fd=4),("x",pid=7,fd=9))
TIME-WAIT 0      0      127.0.0.1:35113 127.0.0.1:43707
FIN-WAIT-2 0     0   [::ffff:127.0.0.1]:80 [::ffff:127.0.0.2]:5000
LISTEN 0 4096 127.0.0.1%lo:53 0.0.0.0:*
ESTAB 0 0 [fe80::1]%eth0:22 [fe80::2]%eth0:5000
`
	rows, err := ParseSS([]byte(out))
	require.NoError(t, err)
	require.Len(t, rows, 7)
	assert.Equal(t, SSRow{State: tcptable.StateListen, Local: netip.MustParseAddrPort("0.0.0.0:2024"), Remote: netip.MustParseAddrPort("0.0.0.0:0")}, rows[0])
	assert.Equal(t, netip.MustParseAddrPort("[::]:5555"), rows[1].Local)
	assert.Equal(t, netip.MustParseAddrPort("[::]:0"), rows[1].Remote)
	assert.Equal(t, []uint32{21400}, rows[1].PIDs)
	assert.Equal(t, []uint32{7, 9}, rows[2].PIDs)
	assert.Equal(t, tcptable.StateTimeWait, rows[3].State)
	assert.Nil(t, rows[3].PIDs)
	assert.Equal(t, netip.MustParseAddrPort("[::ffff:127.0.0.1]:80"), rows[4].Local)
	assert.Equal(t, netip.MustParseAddrPort("127.0.0.1:53"), rows[5].Local)
	assert.Equal(t, netip.MustParseAddrPort("[fe80::1%eth0]:22"), rows[6].Local)

	for _, bad := range []string{"ESTAB 0 0 1.2.3.4:5", "BOGUS 0 0 1.2.3.4:5 1.2.3.4:6", "ESTAB 0 0 1.2.3.4 1.2.3.4:6", "ESTAB 0 0 1.2.3.4:99999 1.2.3.4:6", "ESTAB 0 0 x:1 1.2.3.4:6"} {
		_, err := ParseSS([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func TestParseSSInfo(t *testing.T) {
	out := "LISTEN 0      4096   127.0.0.1:5555 0.0.0.0:*\n" +
		"\t cubic rto:1000 mss:536 cwnd:10 segs_in:1 lastsnd:100\n" +
		"ESTAB 0      0      127.0.0.1:40293 127.0.0.1:39216\n" +
		"\t bbr wscale:10,10 rto:204 rtt:0.009/0.005 mss:53760 cwnd:11 bytes_sent:5000 bytes_acked:5000 bytes_received:100000 segs_out:3 segs_in:6 bbr:(bw:215040000000bps,mrtt:0.002) send 525653333333bps lastsnd:216 pacing_rate 681062375640bps delivery_rate 215040000000bps app_limited minrtt:0.002\n" +
		"TIME-WAIT 0      0      [::1]:5555 [::1]:40001\n"
	rows, err := ParseSSInfo([]byte(out))
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, "1", rows[0].Info["segs_in"])
	e := rows[1]
	assert.Equal(t, netip.MustParseAddrPort("127.0.0.1:40293"), e.Local)
	assert.Equal(t, "5000", e.Info["bytes_sent"])
	assert.Equal(t, "100000", e.Info["bytes_received"])
	assert.Equal(t, "0.009/0.005", e.Info["rtt"])
	assert.Equal(t, "681062375640bps", e.Info["pacing_rate"])
	assert.Equal(t, "215040000000bps", e.Info["delivery_rate"])
	assert.Equal(t, "0.002", e.Info["minrtt"])
	assert.Empty(t, rows[2].Info, "TIME-WAIT has no information line")

	_, err = ParseSSInfo([]byte("\t cubic rto:1\n"))
	assert.Error(t, err)
}
