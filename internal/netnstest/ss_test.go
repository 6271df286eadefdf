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
