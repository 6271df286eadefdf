package linux

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// nlMsg encodes one netlink message with payload.
func nlMsg(typ, flags uint16, seq uint32, payload []byte) []byte {
	b := make([]byte, align(nlmsgHdrLen+len(payload)))
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(nlmsgHdrLen+len(payload)))
	ne.PutUint16(b[4:], typ)
	ne.PutUint16(b[6:], flags)
	ne.PutUint32(b[8:], seq)
	copy(b[nlmsgHdrLen:], payload)
	return b
}

// diagMsg encodes an inet_diag_msg for r, followed by one attribute
// (INET_DIAG_SHUTDOWN, as the kernel always sends) that must be ignored,
// r.Info as an INET_DIAG_INFO attribute when it is not nil, and another
// ignored attribute (INET_DIAG_SOCKOPT), and INET_DIAG_SKV6ONLY when
// r.HasV6Only.
func diagMsg(r diagRow) []byte {
	p := make([]byte, inetDiagMsgLen+8)
	ne := binary.NativeEndian
	p[0], p[1] = r.Family, r.State
	binary.BigEndian.PutUint16(p[4:], r.SPort)
	binary.BigEndian.PutUint16(p[6:], r.DPort)
	copy(p[8:], r.Src[:])
	copy(p[24:], r.Dst[:])
	ne.PutUint32(p[40:], r.IfIndex)
	ne.PutUint32(p[44:], uint32(r.Cookie))
	ne.PutUint32(p[48:], uint32(r.Cookie>>32))
	ne.PutUint32(p[56:], r.RQueue)
	ne.PutUint32(p[60:], r.WQueue)
	ne.PutUint32(p[64:], r.UID)
	ne.PutUint32(p[68:], r.Inode)
	ne.PutUint16(p[72:], 5) // nla_len
	ne.PutUint16(p[74:], 8) // INET_DIAG_SHUTDOWN
	if r.Info != nil {
		p = append(p, nlAttr(inetDiagInfo, r.Info)...)
		p = append(p, nlAttr(22, []byte{1, 0})...) // INET_DIAG_SOCKOPT
	}
	if r.HasV6Only {
		v6only := byte(0)
		if r.V6Only {
			v6only = 1
		}
		p = append(p, nlAttr(inetDiagSkV6Only, []byte{v6only})...)
	}
	return p
}

// nlAttr encodes one netlink attribute, padded to 4 bytes.
func nlAttr(typ uint16, payload []byte) []byte {
	b := make([]byte, align(nlaHdrLen+len(payload)))
	binary.NativeEndian.PutUint16(b[0:], uint16(nlaHdrLen+len(payload)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[nlaHdrLen:], payload)
	return b
}

func errPayload(errno int32) []byte {
	p := make([]byte, 4+nlmsgHdrLen)
	binary.NativeEndian.PutUint32(p, uint32(errno))
	return p
}

func addr16(s string) [16]byte { return netip.MustParseAddr(s).As16() }

func addr4(s string) (b [16]byte) {
	a := netip.MustParseAddr(s).As4()
	copy(b[:], a[:])
	return b
}

var fixtureRows = []diagRow{
	{Family: afInet, State: tcpListen, SPort: 0x1234, Src: addr4("127.0.0.1"), UID: 1000, Inode: 4242, Info: tcpInfoFixture(tcpInfoLen419)},
	{Family: afInet6, State: tcpEstablished, SPort: 0x2345, DPort: 0x3456, Src: addr16("::ffff:10.0.0.1"), Dst: addr16("::ffff:10.0.0.2"), UID: 0, Inode: 77, Cookie: 0x1_0000_0002},
	{Family: afInet6, State: tcpTimeWait, SPort: 0x4567, DPort: 0x5678, Src: addr16("fe80::1"), Dst: addr16("fe80::2"), IfIndex: 3},
	{Family: afInet, State: tcpEstablished, SPort: 0x6789, DPort: 0x789a, Src: addr4("127.0.0.1"), Dst: addr4("127.0.0.1"),
		RQueue: 7, WQueue: 3000, UID: 1000, Inode: 99, Info: tcpInfoFixture(tcpInfoLen419)},
	// Listeners on :: with IPV6_V6ONLY off (dual stack) and on, and one
	// on ::1 with it off (not dual stack: bound to one address).
	{Family: afInet6, State: tcpListen, SPort: 8080, UID: 1000, Inode: 100, HasV6Only: true},
	{Family: afInet6, State: tcpListen, SPort: 8081, UID: 1000, Inode: 101, HasV6Only: true, V6Only: true},
	{Family: afInet6, State: tcpListen, SPort: 8082, Src: addr16("::1"), UID: 1000, Inode: 102, HasV6Only: true},
}

func fixtureDump(seq uint32) []byte {
	var b []byte
	for _, r := range fixtureRows {
		b = append(b, nlMsg(sockDiagByFamily, nlmFMulti, seq, diagMsg(r))...)
	}
	return append(b, nlMsg(nlmsgDone, nlmFMulti, seq, []byte{0, 0, 0, 0})...)
}

func collectDiag(t *testing.T, b []byte, seq uint32) ([]diagRow, dumpStatus, error) {
	t.Helper()
	var rows []diagRow
	st, err := parseDiag(b, seq, func(r *diagRow) { rows = append(rows, *r) })
	return rows, st, err
}

func TestBuildDiagRequest(t *testing.T) {
	b := buildDiagRequest(nil, afInet6, 1<<tcpListen, extInfo, 7)
	require.Len(t, b, nlmsgHdrLen+inetDiagReqLen)
	ne := binary.NativeEndian
	assert.Equal(t, uint32(len(b)), ne.Uint32(b[0:]))
	assert.Equal(t, uint16(sockDiagByFamily), ne.Uint16(b[4:]))
	assert.Equal(t, uint16(nlmFRequest|nlmFDump), ne.Uint16(b[6:]))
	assert.Equal(t, uint32(7), ne.Uint32(b[8:]))
	r := b[nlmsgHdrLen:]
	assert.Equal(t, []byte{afInet6, ipprotoTCP, 2, 0}, r[:4], "idiag_ext asks for INET_DIAG_INFO (1 << (2-1))")
	assert.Equal(t, uint32(1<<tcpListen), ne.Uint32(r[4:]))
	assert.Equal(t, make([]byte, 40), r[8:48], "ports, addresses and interface must be zero in a dump")
	// The buffer is reused.
	b2 := buildDiagRequest(b, afInet, 0, 0, 8)
	assert.Equal(t, &b[0], &b2[0])
	assert.Equal(t, byte(afInet), b2[nlmsgHdrLen])
	assert.Equal(t, byte(0), b2[nlmsgHdrLen+2], "no extensions")
}

func TestParseDiag(t *testing.T) {
	rows, st, err := collectDiag(t, fixtureDump(5), 5)
	require.NoError(t, err)
	assert.Equal(t, dumpStatus{Done: true}, st)
	assert.Equal(t, fixtureRows, rows)
}

func TestParseDiagSkipsOtherSequences(t *testing.T) {
	b := append(fixtureDump(4), fixtureDump(5)...)
	rows, st, err := collectDiag(t, b, 5)
	require.NoError(t, err)
	assert.True(t, st.Done)
	assert.Len(t, rows, len(fixtureRows))
}

func TestParseDiagMultipart(t *testing.T) {
	// A datagram without NLMSG_DONE: the dump continues.
	b := nlMsg(sockDiagByFamily, nlmFMulti|nlmFDumpIntr, 1, diagMsg(fixtureRows[0]))
	rows, st, err := collectDiag(t, b, 1)
	require.NoError(t, err)
	assert.Equal(t, dumpStatus{Interrupted: true}, st)
	assert.Len(t, rows, 1)
}

func TestParseDiagErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		b     []byte
		errno syscall.Errno
	}{
		"nlmsg-error": {nlMsg(nlmsgError, 0, 1, errPayload(-int32(syscall.EPERM))), syscall.EPERM},
		"done-error":  {nlMsg(nlmsgDone, nlmFMulti, 1, errPayload(-int32(syscall.ENOENT))[:4]), syscall.ENOENT},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := collectDiag(t, tc.b, 1)
			var de *DumpError
			require.ErrorAs(t, err, &de)
			assert.ErrorIs(t, err, tc.errno)
		})
	}
	good := nlMsg(sockDiagByFamily, 0, 1, diagMsg(fixtureRows[0]))
	for name, b := range map[string][]byte{
		"short-header":  good[:10],
		"length-beyond": good[:len(good)-4],
		"length-small":  func() []byte { c := clone(good); binary.NativeEndian.PutUint32(c, 8); return c }(),
		"short-diag":    nlMsg(sockDiagByFamily, 0, 1, make([]byte, inetDiagMsgLen-1)),
		"short-error":   nlMsg(nlmsgError, 0, 1, []byte{1}),
		"empty-v6only":  nlMsg(sockDiagByFamily, 0, 1, append(diagMsg(fixtureRows[4]), nlAttr(inetDiagSkV6Only, nil)...)),
		"unknown-type":  nlMsg(99, 0, 1, nil),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := collectDiag(t, b, 1)
			assert.ErrorIs(t, err, errMalformed)
		})
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func TestConnFromRow(t *testing.T) {
	zone := func(i uint32) string { return map[uint32]string{3: "eth0"}[i] }
	c, ok := connFromRow(&fixtureRows[0], zone)
	require.True(t, ok)
	assert.Equal(t, tcptable.StateListen, c.State)
	assert.Equal(t, uint32(tcpListen), c.OSState)
	assert.Equal(t, netip.MustParseAddrPort("127.0.0.1:4660"), c.Local)
	assert.Equal(t, netip.MustParseAddrPort("0.0.0.0:0"), c.Remote)
	assert.Equal(t, uint64(4242), c.Socket)
	assert.True(t, c.HasUID)
	assert.Equal(t, uint32(1000), c.UID)

	c, ok = connFromRow(&fixtureRows[1], zone)
	require.True(t, ok)
	assert.Equal(t, netip.MustParseAddrPort("[::ffff:10.0.0.1]:9029"), c.Local, "IPv4-mapped stays IPv6")
	assert.Equal(t, tcptable.IPv6, c.Family())
	assert.True(t, c.HasUID, "uid 0 of a full socket is root, not unknown")

	c, ok = connFromRow(&fixtureRows[2], zone)
	require.True(t, ok)
	assert.Equal(t, tcptable.StateTimeWait, c.State)
	assert.Equal(t, netip.MustParseAddrPort("[fe80::1%eth0]:17767"), c.Local)
	assert.Equal(t, netip.MustParseAddrPort("[fe80::2%eth0]:22136"), c.Remote)
	assert.Equal(t, uint32(3), c.Interface)
	assert.False(t, c.HasUID)

	c, _ = connFromRow(&fixtureRows[2], numericZone)
	assert.Equal(t, "3", c.Local.Addr().Zone())

	// DualStack: INET_DIAG_SKV6ONLY 0 on an AF_INET6 socket bound to ::,
	// and nothing else (the attribute 1, another address, no attribute).
	for i, want := range map[int]bool{0: false, 1: false, 4: true, 5: false, 6: false} {
		c, _ = connFromRow(&fixtureRows[i], zone)
		assert.Equal(t, want, c.DualStack, "fixture row %d (%v)", i, c.Local)
	}
	noAttr := fixtureRows[4]
	noAttr.HasV6Only = false
	c, _ = connFromRow(&noAttr, zone)
	assert.False(t, c.DualStack, "no INET_DIAG_SKV6ONLY (/proc/net): nothing known")

	_, ok = connFromRow(&diagRow{Family: 44}, zone)
	assert.False(t, ok)
}

func TestStateMapping(t *testing.T) {
	want := map[uint8]tcptable.State{
		1: tcptable.StateEstablished, 2: tcptable.StateSynSent, 3: tcptable.StateSynReceived,
		4: tcptable.StateFinWait1, 5: tcptable.StateFinWait2, 6: tcptable.StateTimeWait,
		7: tcptable.StateClosed, 8: tcptable.StateCloseWait, 9: tcptable.StateLastAck,
		10: tcptable.StateListen, 11: tcptable.StateClosing, 12: tcptable.StateSynReceived,
		13: tcptable.StateClosed,
	}
	for code := range 256 {
		st, ok := stateFromKernel(uint8(code))
		w, known := want[uint8(code)]
		assert.Equal(t, known, ok, "code %d", code)
		assert.Equal(t, w, st, "code %d", code)
	}
}

func TestStateMask(t *testing.T) {
	all := uint32(0)
	for code := 1; code <= tcpMaxState; code++ {
		all |= 1 << code
	}
	// Undefined codes (0, 14..31) come with what matches State 0.
	undefined := uint32(1) | ^uint32(1<<14-1)
	assert.Equal(t, all|undefined, stateMask(tcptable.Query{}))
	assert.Equal(t, uint32(1<<tcpListen), stateMask(tcptable.Query{Class: tcptable.ClassListeners}))
	assert.Equal(t, (all|undefined)&^(1<<tcpListen), stateMask(tcptable.Query{Class: tcptable.ClassConnections}))
	for code, want := range map[uint8]bool{0: true, 1: true, 13: true, 14: true, 31: true, 32: true, 255: true} {
		assert.Equal(t, want, stateWanted(stateMask(tcptable.Query{}), code), "code %d", code)
		assert.Equal(t, code == tcpListen, stateWanted(stateMask(tcptable.Query{Class: tcptable.ClassListeners}), code), "code %d", code)
		assert.False(t, stateWanted(stateMask(tcptable.Query{States: []tcptable.State{tcptable.StateEstablished}}), code) && code != tcpEstablished, "code %d", code)
	}
	assert.Equal(t, uint32(1<<tcpSynRecv|1<<tcpNewSynRecv),
		stateMask(tcptable.Query{States: []tcptable.State{tcptable.StateSynReceived}}))
	assert.Equal(t, uint32(0), stateMask(tcptable.Query{Class: tcptable.ClassListeners, States: []tcptable.State{tcptable.StateEstablished}}))
}

func TestDumpErrorUnwrap(t *testing.T) {
	err := error(&DumpError{Errno: syscall.EPERM})
	assert.True(t, errors.Is(err, syscall.EPERM))
	assert.Contains(t, err.Error(), "sock_diag")
}
