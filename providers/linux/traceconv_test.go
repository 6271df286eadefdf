package linux

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux/internal/events"
)

// row builds the row of r's socket in kernel state st with owner o.
func (cv *converter) row(r *events.Record, st uint8, o *events.Owner) tcptable.Connection {
	var c tcptable.Connection
	cv.rowInto(&c, r, st, o)
	return c
}

// rows returns the row before and after the change r reports.
func (cv *converter) rows(r *events.Record) (before, after tcptable.Connection) {
	cv.rowsInto(&before, &after, r)
	return before, after
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		kind     events.Kind
		old, new uint8
		want     change
	}{
		{events.KindState, tcpClose, tcpSynSent, changeOpened},
		{events.KindState, tcpClose, tcpListen, changeOpened},
		{events.KindState, tcpListen, tcpSynRecv, changeOpened}, // a child of the listener
		{events.KindState, tcpListen, tcpClose, changeClosed},
		{events.KindState, tcpLastAck, tcpClose, changeClosed},
		{events.KindState, tcpSynSent, tcpEstablished, changeUpdated},
		{events.KindState, tcpFinWait2, tcpTimeWait, changeUpdated},
		{events.KindOwner, tcpEstablished, tcpEstablished, changeUpdated},
	} {
		assert.Equal(t, c.want, classify(&events.Record{Kind: c.kind, Old: c.old, New: c.new}), "%d %d->%d", c.kind, c.old, c.new)
	}
}

func record(old, new uint8, owner, prev events.Owner) *events.Record {
	r := &events.Record{Kind: events.KindState, Family: afInet, Old: old, New: new, SPort: 5000, DPort: 80,
		Inode: 77, Owner: owner, Prev: prev, Birth: 2e9, Time: 3e9}
	copy(r.Src[:], []byte{127, 0, 0, 1})
	copy(r.Dst[:], []byte{127, 0, 0, 2})
	return r
}

var (
	proc   = events.Owner{Kind: events.OwnerProcess, PID: 42, Start: 1e9, Comm: "curl"}
	kernel = events.Owner{Kind: events.OwnerKernel}
)

func TestConverterRows(t *testing.T) {
	wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cv := converter{clock: events.NewClock(1e9, wall), zone: numericZone, netns: 4026531840, netnsName: "blue",
		module: func(o *events.Owner) string { return "/usr/bin/" + o.Comm }}
	before, after := cv.rows(record(tcpFinWait2, tcpTimeWait, kernel, proc))
	assert.Equal(t, uint64(4026531840), after.NetNS, "traced rows carry the namespace, as Table's do")
	assert.Equal(t, "blue", before.NetNSName)
	assert.Equal(t, uint64(4026531840), after.Key().NetNS)
	assert.Equal(t, netip.MustParseAddrPort("127.0.0.1:5000"), after.Local)
	assert.Equal(t, netip.MustParseAddrPort("127.0.0.2:80"), after.Remote)
	assert.Equal(t, tcptable.StateTimeWait, after.State)
	assert.Equal(t, tcptable.OwnerKernel, after.OwnerStatus)
	assert.Zero(t, after.PID)
	assert.Equal(t, wall.Add(time.Second), after.Created, "birth 2e9 on a clock where 1e9 is wall")
	assert.Equal(t, tcptable.StateFinWait2, before.State)
	assert.Equal(t, uint32(42), before.PID)
	assert.Equal(t, tcptable.Module{Name: "curl", Path: "/usr/bin/curl"}, before.Module)
	assert.Equal(t, tcptable.SourceProcfs, before.ModuleSource)

	// An owner the recorder never saw comes from the first snapshot,
	// by inode, or stays unknown.
	unknown := events.Owner{}
	_, after = cv.rows(record(tcpEstablished, tcpCloseWait, unknown, unknown))
	assert.Equal(t, tcptable.OwnerUnknown, after.OwnerStatus)
	cv.seed = map[uint64]owned{77: {pid: 9, module: tcptable.Module{Name: "sshd"}}}
	_, after = cv.rows(record(tcpEstablished, tcpCloseWait, unknown, unknown))
	assert.Equal(t, uint32(9), after.PID)
	assert.Equal(t, tcptable.OwnerOK, after.OwnerStatus)
}

func TestViewEvents(t *testing.T) {
	cv := converter{zone: numericZone}
	at := time.Unix(5, 0)
	kinds := func(evs []tcptable.Event) []tcptable.EventKind {
		var k []tcptable.EventKind
		for _, e := range evs {
			k = append(k, e.Kind)
			assert.Equal(t, at, e.Time)
		}
		return k
	}
	view := func(q tcptable.Query, r *events.Record) []tcptable.EventKind {
		b, a := cv.rows(r)
		return kinds(viewEvents(nil, q, classify(r), b, a, at))
	}
	all := tcptable.Query{}
	estab := tcptable.Query{States: []tcptable.State{tcptable.StateEstablished}}
	assert.Equal(t, []tcptable.EventKind{tcptable.EventOpened}, view(all, record(tcpClose, tcpSynSent, proc, events.Owner{})))
	assert.Nil(t, view(estab, record(tcpClose, tcpSynSent, proc, events.Owner{})), "not a row the query shows")
	assert.Equal(t, []tcptable.EventKind{tcptable.EventOpened}, view(estab, record(tcpSynSent, tcpEstablished, proc, proc)),
		"a row entering the query's view is opened there, as Diff of two answers would say")
	assert.Equal(t, []tcptable.EventKind{tcptable.EventClosed}, view(estab, record(tcpEstablished, tcpFinWait1, proc, proc)))
	assert.Equal(t, []tcptable.EventKind{tcptable.EventStateChanged}, view(all, record(tcpSynSent, tcpEstablished, proc, proc)))
	assert.Equal(t, []tcptable.EventKind{tcptable.EventStateChanged, tcptable.EventOwnerChanged},
		view(all, record(tcpFinWait2, tcpTimeWait, kernel, proc)), "TIME-WAIT: state and owner, in Diff's order")
	assert.Equal(t, []tcptable.EventKind{tcptable.EventStateChanged},
		view(tcptable.Query{Owners: tcptable.OwnerNone}, record(tcpFinWait2, tcpTimeWait, kernel, proc)),
		"owners not asked for are not compared")
	assert.Equal(t, []tcptable.EventKind{tcptable.EventClosed}, view(all, record(tcpLastAck, tcpClose, kernel, kernel)))
	assert.Nil(t, view(tcptable.Query{PID: 7}, record(tcpClose, tcpSynSent, proc, events.Owner{})), "another process's")
	assert.Nil(t, view(tcptable.Query{LocalPort: 1}, record(tcpClose, tcpSynSent, proc, events.Owner{})))

	r := record(tcpEstablished, tcpEstablished, proc, kernel)
	r.Kind = events.KindOwner
	evs := viewEvents(nil, all, classify(r), cv.row(r, r.Old, &r.Prev), cv.row(r, r.New, &r.Owner), at)
	require.Len(t, evs, 1)
	assert.Equal(t, tcptable.EventOwnerChanged, evs[0].Kind, "accept")
	assert.Equal(t, tcptable.OwnerKernel, evs[0].Before.OwnerStatus)
	assert.Equal(t, uint32(42), evs[0].After.PID)
	assert.Equal(t, evs[0].After.Key(), evs[0].Key)
	assert.Equal(t, tcptable.StatsNotRequested, evs[0].After.StatsStatus, "as Table answers a query without Stats")
	evs = viewEvents(nil, tcptable.Query{Stats: true}, classify(r), cv.row(r, r.Old, &r.Prev), cv.row(r, r.New, &r.Owner), at)
	require.Len(t, evs, 1)
	assert.Nil(t, evs[0].After.Stats)
	assert.Equal(t, tcptable.StatsNotSupported, evs[0].After.StatsStatus, "a trace reads no tcp_info, and says so")
}

func TestStorageAttributes(t *testing.T) {
	ne := binary.NativeEndian
	attr := func(typ uint16, payload []byte) []byte {
		b := ne.AppendUint16(nil, uint16(nlaHdrLen+len(payload)))
		b = ne.AppendUint16(b, typ)
		b = append(b, payload...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	val := ne.AppendUint64(nil, 123456789)
	storage := attr(skDiagBPFStorage|0x8000, append(attr(2 /* SK_DIAG_BPF_STORAGE_MAP_ID */, ne.AppendUint32(nil, 7)), attr(skDiagBPFStorageMapValue, val)...))
	assert.Equal(t, uint64(123456789), storageValue(storage))
	assert.Zero(t, storageValue(attr(8, []byte{1})), "no storage")
	assert.Zero(t, storageValue(storage[:len(storage)-3]), "truncated")
	bad := append([]byte(nil), storage...)
	ne.PutUint16(bad, 2) // a length shorter than a header
	assert.Zero(t, storageValue(bad))

	// Through the message decoder, beside another attribute.
	msg := append(make([]byte, inetDiagMsgLen), attr(8, []byte{1})...)
	msg = append(msg, attr(inetDiagSkBPFStorages|0x8000, storage)...)
	var r diagRow
	require.NoError(t, decodeDiagMsg(msg, &r))
	assert.Equal(t, uint64(123456789), r.Birth)
	require.NoError(t, decodeDiagMsg(msg[:inetDiagMsgLen+8], &r))
	assert.Zero(t, r.Birth, "no storage attribute: the last row's birth is not kept")
	assert.ErrorIs(t, decodeDiagMsg(msg[:len(msg)-3], &r), errMalformed, "truncated")

	req := appendStorageReq(buildDiagRequest(nil, afInet, 1<<tcpListen, 0, 9), 33)
	require.Len(t, req, nlmsgHdrLen+inetDiagReqLen+12)
	assert.Equal(t, uint32(len(req)), ne.Uint32(req))
	a := req[nlmsgHdrLen+inetDiagReqLen:]
	assert.Equal(t, uint16(12), ne.Uint16(a))
	assert.Equal(t, uint16(inetDiagReqSkBPFStorages|0x8000), ne.Uint16(a[2:]))
	assert.Equal(t, uint16(skDiagBPFStorageReqMapFD), ne.Uint16(a[6:]))
	assert.Equal(t, uint32(33), ne.Uint32(a[8:]))

	// The trace's lookup of a minisocket: the row's ends, any cookie.
	rid := (&diagRow{Family: afInet, SPort: 5000, DPort: 80, Src: addr4("127.0.0.1"), Dst: addr4("127.0.0.2"), IfIndex: 3, Cookie: 77}).id()
	lk := buildExactRequest(nil, sockDiagByFamily, &rid, 0, 4)
	assert.Equal(t, uint16(nlmFRequest), ne.Uint16(lk[6:]), "an exact lookup, not a dump")
	assert.Equal(t, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, lk[nlmsgHdrLen+48:nlmsgHdrLen+56], "INET_DIAG_NOCOOKIE, not the row's cookie")
	id := lk[nlmsgHdrLen+8:]
	assert.Equal(t, uint16(5000), binary.BigEndian.Uint16(id))
	assert.Equal(t, uint16(80), binary.BigEndian.Uint16(id[2:]))
	assert.Equal(t, []byte{127, 0, 0, 2}, id[20:24])
	assert.Equal(t, uint32(3), ne.Uint32(id[36:]))
}

// TestConverterDualStack: a traced AF_INET6 listener on :: is DualStack
// when its record says IPV6_V6ONLY is off, as Table's row is (and so an
// IPv4 query's view has it); one with IPV6_V6ONLY on, one on another
// address, or a socket in another state than LISTEN and CLOSE (for which
// the kernel's dump has no INET_DIAG_SKV6ONLY) is not.
func TestConverterDualStack(t *testing.T) {
	cv := converter{zone: numericZone}
	v4 := tcptable.Query{Family: tcptable.IPv4}
	listener := func(src [16]byte, v6only bool, old, new uint8) *events.Record {
		return &events.Record{Kind: events.KindState, Family: afInet6, Old: old, New: new, SPort: 8080,
			Src: src, V6Only: v6only, Inode: 77, Owner: proc}
	}
	var any, loop [16]byte
	loop[15] = 1
	for _, c := range []struct {
		r         *events.Record
		dualStack bool
		v4        []tcptable.EventKind
	}{
		{listener(any, false, tcpClose, tcpListen), true, []tcptable.EventKind{tcptable.EventOpened}},
		{listener(any, false, tcpListen, tcpClose), true, []tcptable.EventKind{tcptable.EventClosed}},
		{listener(any, true, tcpClose, tcpListen), false, nil},
		{listener(any, true, tcpListen, tcpClose), false, nil},
		{listener(loop, false, tcpClose, tcpListen), false, nil},
		{listener(any, false, tcpClose, tcpSynSent), false, nil},
	} {
		b, a := cv.rows(c.r)
		row := a
		if classify(c.r) == changeClosed {
			row = b
		}
		assert.Equal(t, c.dualStack, row.DualStack, "%+v: %v", c.r, row)
		var kinds []tcptable.EventKind
		for _, e := range viewEvents(nil, v4, classify(c.r), b, a, time.Unix(5, 0)) {
			kinds = append(kinds, e.Kind)
		}
		assert.Equal(t, c.v4, kinds, "the view of an IPv4 query: %v", row)
	}
}
