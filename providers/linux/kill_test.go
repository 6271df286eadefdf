package linux

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

func TestSockIDOf(t *testing.T) {
	ap := netip.MustParseAddrPort
	const nc = inetDiagNoCookie
	for name, tc := range map[string]struct {
		c    tcptable.Connection
		want sockID
	}{
		"ipv4": {
			tcptable.Connection{Local: ap("127.0.0.1:4660"), Remote: ap("10.0.0.2:80"), Interface: 2},
			sockID{Family: afInet, SPort: 4660, DPort: 80, Src: addr4("127.0.0.1"), Dst: addr4("10.0.0.2"), IfIndex: 2, Cookie: nc},
		},
		"ipv6-link-local": {
			tcptable.Connection{Local: ap("[fe80::1%eth0]:22"), Remote: ap("[fe80::2%eth0]:5000"), Interface: 3},
			sockID{Family: afInet6, SPort: 22, DPort: 5000, Src: addr16("fe80::1"), Dst: addr16("fe80::2"), IfIndex: 3, Cookie: nc},
		},
		"ipv4-mapped stays AF_INET6": {
			tcptable.Connection{Local: ap("[::ffff:127.0.0.1]:80"), Remote: ap("[::ffff:127.0.0.1]:5000")},
			sockID{Family: afInet6, SPort: 80, DPort: 5000, Src: addr16("::ffff:127.0.0.1"), Dst: addr16("::ffff:127.0.0.1"), Cookie: nc},
		},
		"listener without a remote": {
			tcptable.Connection{State: tcptable.StateListen, Local: ap("[::]:443")},
			sockID{Family: afInet6, SPort: 443, Cookie: nc},
		},
	} {
		t.Run(name, func(t *testing.T) {
			id, err := sockIDOf(&tc.c)
			require.NoError(t, err)
			assert.Equal(t, tc.want, id)
		})
	}
	for name, c := range map[string]tcptable.Connection{
		"no local":       {Remote: ap("127.0.0.1:80")},
		"mixed families": {Local: ap("127.0.0.1:80"), Remote: ap("[::1]:5000")},
	} {
		_, err := sockIDOf(&c)
		assert.ErrorIs(t, err, tcptable.ErrInvalid, name)
	}
}

func TestBuildExactRequest(t *testing.T) {
	id := sockID{Family: afInet6, SPort: 0x1234, DPort: 0x5678, Src: addr16("2001:db8::1"), Dst: addr16("2001:db8::2"),
		IfIndex: 7, Cookie: 0x01020304_deadbeef}
	ne := binary.NativeEndian
	for _, tc := range []struct {
		typ   uint16
		ext   uint8
		flags uint16
	}{
		{sockDiagByFamily, 0, nlmFRequest},       // a point lookup: no NLM_F_DUMP
		{sockDiagByFamily, extInfo, nlmFRequest}, // with INET_DIAG_INFO
		{sockDestroy, 0, nlmFRequest | nlmFAck},
	} {
		b := buildExactRequest(nil, tc.typ, &id, tc.ext, 9)
		require.Len(t, b, nlmsgHdrLen+inetDiagReqLen)
		assert.Equal(t, uint32(len(b)), ne.Uint32(b[0:]))
		assert.Equal(t, tc.typ, ne.Uint16(b[4:]))
		assert.Equal(t, tc.flags, ne.Uint16(b[6:]))
		assert.Equal(t, uint32(9), ne.Uint32(b[8:]))
		r := b[nlmsgHdrLen:]
		assert.Equal(t, []byte{afInet6, ipprotoTCP, tc.ext, 0, 0, 0, 0, 0}, r[:8], "family, protocol, ext, pad, idiag_states 0")
		assert.Equal(t, []byte{0x12, 0x34, 0x56, 0x78}, r[8:12], "ports big-endian")
		assert.Equal(t, id.Src[:], r[12:28])
		assert.Equal(t, id.Dst[:], r[28:44])
		assert.Equal(t, uint32(7), ne.Uint32(r[44:]))
		assert.Equal(t, uint32(0xdeadbeef), ne.Uint32(r[48:]))
		assert.Equal(t, uint32(0x01020304), ne.Uint32(r[52:]))
	}
	// A reused buffer is written over, not appended to.
	b := buildExactRequest(nil, sockDestroy, &id, 0, 1)
	id4 := sockID{Family: afInet, SPort: 80, Src: addr4("10.0.0.1")}
	b2 := buildExactRequest(b, sockDiagByFamily, &id4, 0, 2)
	assert.Equal(t, &b[0], &b2[0])
	assert.Equal(t, make([]byte, 12), b2[nlmsgHdrLen+16:nlmsgHdrLen+28], "the rest of an IPv4 address is zero")
}

// exactMsg encodes the kernel's answer to a lookup: an inet_diag_msg for
// r (with its cookie), followed by attrs.
func exactMsg(r diagRow, attrs ...[]byte) []byte {
	p := diagMsg(r)[:inetDiagMsgLen]
	for _, a := range attrs {
		p = append(p, a...)
	}
	return p
}

func TestParseExact(t *testing.T) {
	row := fixtureRows[1]
	row.Cookie = 0x22<<32 | 0x11
	const nested = 0x8000 // NLA_F_NESTED
	ulp := nlAttr(inetDiagULPInfo|nested, nlAttr(inetULPInfoName, []byte("mptcp\x00")))
	for name, tc := range map[string]struct {
		b    []byte
		want exactAnswer
		err  error
	}{
		"found": {nlMsg(sockDiagByFamily, 0, 3, exactMsg(row)), exactAnswer{Found: true, Row: row}, nil},
		"found with ULP": {nlMsg(sockDiagByFamily, 0, 3, exactMsg(row, nlAttr(inetDiagInfo, make([]byte, 232)), ulp)),
			exactAnswer{Found: true, Row: row, ULP: "mptcp"}, nil},
		"acked":     {nlMsg(nlmsgError, 0x100, 3, errPayload(0)), exactAnswer{Acked: true}, nil},
		"enoent":    {nlMsg(nlmsgError, 0, 3, errPayload(-2)), exactAnswer{}, errnoENOENT},
		"eopnotsup": {nlMsg(nlmsgError, 0, 3, errPayload(-95)), exactAnswer{}, errnoEOPNOTSUPP},
		"after a stale answer": {append(nlMsg(nlmsgError, 0, 2, errPayload(-1)), nlMsg(nlmsgError, 0, 3, errPayload(0))...),
			exactAnswer{Acked: true}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			a, done, err := parseExact(tc.b, 3)
			assert.True(t, done)
			assert.Equal(t, tc.want, a)
			if tc.err == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.err)
			}
		})
	}
	_, done, err := parseExact(nlMsg(nlmsgError, 0, 2, errPayload(-1)), 3)
	assert.NoError(t, err)
	assert.False(t, done, "only an older request's answer: read on")

	good := nlMsg(sockDiagByFamily, 0, 3, exactMsg(row, ulp))
	for name, b := range map[string][]byte{
		"short header":    good[:10],
		"length too long": append([]byte{0xff, 0xff, 0, 0}, good[4:]...),
		"short message":   nlMsg(sockDiagByFamily, 0, 3, make([]byte, 10)),
		"short error":     nlMsg(nlmsgError, 0, 3, []byte{1}),
		"unknown type":    nlMsg(99, 0, 3, nil),
		"bad attribute":   nlMsg(sockDiagByFamily, 0, 3, exactMsg(row, []byte{200, 0, 1, 0})),
		"bad nested":      nlMsg(sockDiagByFamily, 0, 3, exactMsg(row, nlAttr(inetDiagULPInfo, []byte{2, 0, 1, 0}))),
	} {
		_, _, err := parseExact(b, 3)
		assert.ErrorIs(t, err, errMalformed, name)
	}
}

// fakeSock is a socket of fakeKernel.
type fakeSock struct {
	row   diagRow // with its cookie
	ulp   string
	bound bool // a destroyed listener that stays bound: in no table a lookup searches
}

// fakeKernel answers exact requests as the kernel's inet_diag_find_one_icsk
// and tcp_abort do: a connected socket with the four-tuple, else a
// listener on the local address (in an SO_REUSEPORT group, the member the
// remote port's hash picks), then the cookie check; SOCK_DESTROY removes
// the socket found.
type fakeKernel struct {
	socks    []*fakeSock
	destroy  syscall.Errno // answer every SOCK_DESTROY with this error
	noop     bool          // acknowledge SOCK_DESTROY without ending anything
	requests []uint16
}

func (k *fakeKernel) exchange(ctx context.Context, typ uint16, id *sockID, ext uint8) (exactAnswer, error) {
	if err := ctx.Err(); err != nil {
		return exactAnswer{}, err
	}
	k.requests = append(k.requests, typ)
	s := k.find(id)
	if s == nil || (id.Cookie != inetDiagNoCookie && id.Cookie != s.row.Cookie) {
		return exactAnswer{}, errnoENOENT
	}
	if typ == sockDestroy {
		if k.destroy != 0 {
			return exactAnswer{}, k.destroy
		}
		if !k.noop {
			s.bound = true
		}
		return exactAnswer{Acked: true}, nil
	}
	a := exactAnswer{Found: true, Row: s.row}
	if ext&(extInfo) != 0 {
		a.ULP = s.ulp
	}
	return a, nil
}

func (k *fakeKernel) find(id *sockID) *fakeSock {
	var group []*fakeSock
	for _, s := range k.socks {
		r := &s.row
		switch {
		case s.bound || r.Family != id.Family || r.SPort != id.SPort:
		case r.State != tcpListen && r.DPort == id.DPort && r.Src == id.Src && r.Dst == id.Dst:
			return s
		case r.State == tcpListen && (r.Src == id.Src || r.Src == [16]byte{}):
			group = append(group, s)
		}
	}
	if len(group) == 0 {
		return nil
	}
	return group[int(id.DPort)*7919%len(group)] // the remote end's hash picks a member
}

func TestKillSocket(t *testing.T) {
	ap := netip.MustParseAddrPort
	est := diagRow{Family: afInet, State: tcpEstablished, SPort: 5000, DPort: 80, Src: addr4("127.0.0.1"), Dst: addr4("127.0.0.1"), Inode: 10}
	estRow := tcptable.Connection{State: tcptable.StateEstablished, Local: ap("127.0.0.1:5000"), Remote: ap("127.0.0.1:80"), Socket: 10}
	tw := diagRow{Family: afInet6, State: tcpTimeWait, SPort: 5001, DPort: 80, Src: addr16("::1"), Dst: addr16("::1")}
	twRow := tcptable.Connection{State: tcptable.StateTimeWait, Local: ap("[::1]:5001"), Remote: ap("[::1]:80")}
	lsn := func(ino uint32) diagRow {
		return diagRow{Family: afInet, State: tcpListen, SPort: 80, Src: addr4("127.0.0.1"), Inode: ino}
	}
	lsnRow := func(ino uint64) tcptable.Connection {
		return tcptable.Connection{State: tcptable.StateListen, Local: ap("127.0.0.1:80"), Remote: ap("0.0.0.0:0"), Socket: ino}
	}
	kernel := func(rows ...diagRow) *fakeKernel {
		k := &fakeKernel{}
		for i, r := range rows {
			r.Cookie = uint64(100 + i)
			k.socks = append(k.socks, &fakeSock{row: r})
		}
		return k
	}
	alive := func(k *fakeKernel) (n int) {
		for _, s := range k.socks {
			if !s.bound {
				n++
			}
		}
		return n
	}
	ctx := context.Background()

	t.Run("established", func(t *testing.T) {
		k := kernel(est, lsn(1))
		require.NoError(t, killSocket(ctx, k.exchange, &estRow))
		assert.True(t, k.socks[0].bound)
		assert.False(t, k.socks[1].bound, "the listener on the other port lives on")
		assert.Equal(t, []uint16{sockDiagByFamily, sockDestroy, sockDiagByFamily}, k.requests, "find, destroy, verify: no dump")
	})
	t.Run("time-wait", func(t *testing.T) {
		k := kernel(tw)
		require.NoError(t, killSocket(ctx, k.exchange, &twRow))
		assert.Equal(t, 0, alive(k))
	})
	t.Run("reuseport member by inode", func(t *testing.T) {
		k := kernel(lsn(1), lsn(2), lsn(3), lsn(4), lsn(5))
		killed := map[uint32]bool{}
		for _, ino := range []uint64{4, 1, 5} {
			c := lsnRow(ino)
			require.NoError(t, killSocket(ctx, k.exchange, &c))
			killed[uint32(ino)] = true
			for _, s := range k.socks {
				assert.Equal(t, killed[s.row.Inode], s.bound, "inode %d", s.row.Inode)
			}
		}
		assert.Equal(t, 2, alive(k))
	})
	t.Run("listener without a socket identity", func(t *testing.T) {
		k := kernel(lsn(7))
		c := lsnRow(0)
		require.NoError(t, killSocket(ctx, k.exchange, &c))
		assert.Equal(t, 0, alive(k))
	})

	for name, tc := range map[string]struct {
		k *fakeKernel
		c tcptable.Connection
	}{
		"nothing there":                  {kernel(), estRow},
		"gone, a listener on its port":   {kernel(lsn(1)), estRow},
		"another socket's inode":         {kernel(est), func() tcptable.Connection { c := estRow; c.Socket = 11; return c }()},
		"TIME-WAIT row, a new socket":    {kernel(est), func() tcptable.Connection { c := estRow; c.State, c.Socket = tcptable.StateTimeWait, 0; return c }()},
		"listener of another inode":      {kernel(lsn(1), lsn(2)), lsnRow(3)},
		"listener, only a connection":    {kernel(est), tcptable.Connection{State: tcptable.StateListen, Local: ap("127.0.0.1:5000")}},
		"IPv6 row, an IPv4 socket":       {kernel(lsn(1)), tcptable.Connection{State: tcptable.StateListen, Local: ap("[::ffff:127.0.0.1]:80")}},
		"another address, same port":     {kernel(lsn(1)), tcptable.Connection{State: tcptable.StateListen, Local: ap("127.0.0.2:80")}},
		"wildcard listener, not the row": {kernel(diagRow{Family: afInet, State: tcpListen, SPort: 80, Inode: 9}), lsnRow(0)},
	} {
		t.Run("not found/"+name, func(t *testing.T) {
			before := alive(tc.k)
			err := killSocket(ctx, tc.k.exchange, &tc.c)
			require.ErrorIs(t, err, tcptable.ErrNotFound)
			assert.Equal(t, before, alive(tc.k), "nothing is ended")
			assert.NotContains(t, tc.k.requests, uint16(sockDestroy))
		})
	}

	t.Run("unverified", func(t *testing.T) {
		k := kernel(est)
		k.noop = true
		err := killSocket(ctx, k.exchange, &estRow)
		require.ErrorIs(t, err, errKillUnverified, "a destroy the kernel acknowledges without ending the socket is caught")
		assert.NotErrorIs(t, err, tcptable.ErrNotFound)
	})
	t.Run("unverified reuseport member", func(t *testing.T) {
		k := kernel(lsn(1), lsn(2), lsn(3))
		k.noop = true
		c := lsnRow(2)
		require.ErrorIs(t, killSocket(ctx, k.exchange, &c), errKillUnverified)
	})

	for name, tc := range map[string]struct {
		errno syscall.Errno
		ulp   string
		row   tcptable.Connection
		is    error
		says  string
	}{
		"EPERM":              {errnoEPERM, "", estRow, tcptable.ErrPermission, "CAP_NET_ADMIN"},
		"EACCES":             {errnoEACCES, "", estRow, tcptable.ErrPermission, "CAP_NET_ADMIN"},
		"EOPNOTSUPP":         {errnoEOPNOTSUPP, "", estRow, tcptable.ErrNotSupported, "CONFIG_INET_DIAG_DESTROY"},
		"EOPNOTSUPP TW":      {errnoEOPNOTSUPP, "", twRow, tcptable.ErrNotSupported, "cannot destroy TIME-WAIT sockets"},
		"EINVAL MPTCP":       {errnoEINVAL, "mptcp", lsnRow(1), tcptable.ErrNotSupported, "MPTCP listener"},
		"EINVAL":             {errnoEINVAL, "", lsnRow(1), tcptable.ErrNotSupported, "refused SOCK_DESTROY"},
		"ENOENT (raced)":     {errnoENOENT, "", estRow, tcptable.ErrNotFound, "no longer has"},
		"another errno kept": {syscall.Errno(16), "", estRow, syscall.Errno(16), "SOCK_DESTROY: "},
	} {
		t.Run("errno/"+name, func(t *testing.T) {
			k := kernel(est, lsn(1), tw)
			for _, s := range k.socks {
				s.ulp = tc.ulp
			}
			k.destroy = tc.errno
			err := killSocket(ctx, k.exchange, &tc.row)
			require.ErrorIs(t, err, tc.is)
			assert.ErrorIs(t, err, tc.errno, "the errno is kept")
			assert.Contains(t, err.Error(), tc.says)
			assert.Equal(t, 3, alive(k))
		})
	}

	t.Run("refused", func(t *testing.T) {
		k := kernel(est)
		c := estRow
		c.State = tcptable.StateClosed
		require.ErrorIs(t, killSocket(ctx, k.exchange, &c), tcptable.ErrNotSupported)
		assert.Empty(t, k.requests)
		_, err := sockIDOf(&tcptable.Connection{})
		assert.ErrorIs(t, err, tcptable.ErrInvalid)
	})
	t.Run("context", func(t *testing.T) {
		k := kernel(lsn(1), lsn(2), lsn(3))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		c := lsnRow(2)
		require.ErrorIs(t, killSocket(cctx, k.exchange, &c), context.Canceled)
		assert.Equal(t, 3, alive(k))
	})
	t.Run("lookup fails", func(t *testing.T) {
		boom := errors.New("boom")
		ex := func(context.Context, uint16, *sockID, uint8) (exactAnswer, error) { return exactAnswer{}, boom }
		err := killSocket(ctx, ex, &estRow)
		require.ErrorIs(t, err, boom)
		assert.NotErrorIs(t, err, tcptable.ErrNotFound)
	})
}

func FuzzParseExact(f *testing.F) {
	row := fixtureRows[0]
	f.Add(nlMsg(sockDiagByFamily, 0, 1, exactMsg(row, nlAttr(inetDiagULPInfo, nlAttr(inetULPInfoName, []byte("tls\x00"))))))
	f.Add(nlMsg(nlmsgError, 0, 1, errPayload(-2)))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, done, err := parseExact(b, 1)
		if err == nil && done && !a.Found && !a.Acked {
			t.Fatalf("done without an answer or an error: %+v", a)
		}
	})
}
