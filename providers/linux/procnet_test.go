package linux

import (
	"encoding/binary"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// littleEndian reports whether the fixtures, written on x86-64, apply.
// On a big-endian machine they do not: nothing is missing that a setup
// could provide, so it is a plain skip, not testenv.SkipOrFail.
func littleEndian(t *testing.T) {
	t.Helper()
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 1)
	if b[0] != 1 {
		t.Skip("the /proc/net fixtures were captured on a little-endian kernel")
	}
}

func parseFixture(t *testing.T, name string, fam uint8) []diagRow {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	var rows []diagRow
	require.NoError(t, parseProcNet(f, fam, func(r *diagRow) { rows = append(rows, *r) }))
	return rows
}

func TestParseProcNetTCP(t *testing.T) {
	littleEndian(t)
	rows := parseFixture(t, "proc_net_tcp", afInet)
	require.Len(t, rows, 4)
	assert.Equal(t, diagRow{Family: afInet, State: tcpListen, SPort: 2024, Inode: 1056}, rows[0])
	assert.Equal(t, diagRow{Family: afInet, State: tcpListen, SPort: 0x1235, Src: addr4("127.0.0.1"), UID: 1000, Inode: 68565}, rows[1])
	assert.Equal(t, uint8(tcpTimeWait), rows[2].State)
	assert.Equal(t, uint32(0), rows[2].Inode)
	assert.Equal(t, addr4("192.168.0.2"), rows[3].Src)
	assert.Equal(t, addr4("192.168.0.1"), rows[3].Dst)
	assert.Equal(t, uint16(22), rows[3].SPort)
	assert.Equal(t, uint16(0xD431), rows[3].DPort)
	assert.Equal(t, uint32(65534), rows[3].UID)
	assert.Equal(t, uint32(4294967295), rows[3].Inode)
}

func TestParseProcNetTCP6(t *testing.T) {
	littleEndian(t)
	rows := parseFixture(t, "proc_net_tcp6", afInet6)
	require.Len(t, rows, 4)
	c, ok := connFromRow(&rows[0], numericZone)
	require.True(t, ok)
	assert.Equal(t, netip.MustParseAddrPort("[::1]:4660"), c.Local)
	assert.Equal(t, netip.MustParseAddrPort("[::]:0"), c.Remote)
	c, _ = connFromRow(&rows[1], numericZone)
	assert.Equal(t, netip.MustParseAddrPort("[::1]:47342"), c.Remote)
	c, _ = connFromRow(&rows[2], numericZone)
	assert.Equal(t, netip.MustParseAddrPort("[::ffff:127.0.0.1]:8080"), c.Local)
	assert.Equal(t, netip.MustParseAddrPort("[::ffff:127.0.0.2]:50000"), c.Remote)
	assert.Equal(t, uint32(1000), c.UID)
	c, _ = connFromRow(&rows[3], numericZone)
	assert.Equal(t, "fe80::250:ff:125d:4afe", c.Local.Addr().String(), "no interface in /proc/net: no zone")
}

func TestParseProcNetErrors(t *testing.T) {
	header := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	good := "   0: 0100007F:1235 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 68565 1\n"
	require.NoError(t, parseProcNet(strings.NewReader(header+good+"\n"), afInet, func(*diagRow) {}))
	for name, line := range map[string]string{
		"few-fields":   "   0: 0100007F:1235 00000000:0000 0A\n",
		"bad-addr":     strings.Replace(good, "0100007F:1235", "0100007G:1235", 1),
		"short-addr":   strings.Replace(good, "0100007F:1235", "100007F:1235", 1),
		"bad-port":     strings.Replace(good, "0100007F:1235", "0100007F:12345", 1),
		"no-colon":     strings.Replace(good, "0100007F:1235", "0100007F-1235", 1),
		"bad-state":    strings.Replace(good, " 0A ", " XY ", 1),
		"big-state":    strings.Replace(good, " 0A ", " 1FF ", 1),
		"bad-uid":      strings.Replace(good, "  1000  ", "  -1000  ", 1),
		"bad-inode":    strings.Replace(good, " 68565 ", " 99999999999 ", 1),
		"v6-in-v4":     "   0: 00000000000000000000000001000000:1234 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 68562 1\n",
		"line-too-big": "   0: " + strings.Repeat("0", maxProcNetLine) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			err := parseProcNet(strings.NewReader(header+line), afInet, func(*diagRow) {})
			assert.ErrorIs(t, err, errProcNet)
		})
	}
}

func TestParseSockstat(t *testing.T) {
	assert.Equal(t, 200015, parseSockstat([]byte("sockets: used 15\nTCP: inuse 200000 orphan 0 tw 15 alloc 1 mem 126\nUDP: inuse 0 mem 0\n")))
	assert.Equal(t, 7, parseSockstat([]byte("TCP6: inuse 7\nUDP6: inuse 1\n")))
	assert.Equal(t, 0, parseSockstat([]byte("UDP: inuse 3\n")))
	assert.Equal(t, 0, parseSockstat([]byte("TCP: inuse x tw")))
}
