package linux

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux/internal/events"
)

// lifecycleRecords returns the records the programs write for loopback
// connection i (client closes first, server closes after): what the hub
// decodes and dispatches per connection.
func lifecycleRecords(i uint64) []events.Record {
	client := events.Owner{Kind: events.OwnerProcess, PID: 1000, Start: 7e9, Comm: "client"}
	server := events.Owner{Kind: events.OwnerProcess, PID: 2000, Start: 8e9, Comm: "server"}
	kernel := events.Owner{Kind: events.OwnerKernel}
	cport, sport := uint16(10000+i%50000), uint16(7000)
	var cAddr, sAddr [16]byte
	copy(cAddr[:], []byte{127, 1, byte(i >> 8), byte(i)})
	copy(sAddr[:], []byte{127, 0, 0, 1})
	t := 1e12 + i*10000
	cl := func(k events.Kind, old, new uint8, owner, prev events.Owner, tw bool) events.Record {
		return events.Record{Kind: k, Time: t, Cookie: 2 * i, Birth: 1e12 + i*10000, Owner: owner, Prev: prev,
			Family: afInet, Old: old, New: new, TimeWait: tw, SPort: cport, DPort: sport, Src: cAddr, Dst: sAddr, Inode: uint32(i)}
	}
	sv := func(k events.Kind, old, new uint8, owner, prev events.Owner) events.Record {
		return events.Record{Kind: k, Time: t, Cookie: 2*i + 1, Birth: 1e12 + i*10000 + 5000, Owner: owner, Prev: prev,
			Family: afInet, Old: old, New: new, SPort: sport, DPort: cport, Src: sAddr, Dst: cAddr, Inode: uint32(i) + 1}
	}
	open := cl(events.KindState, tcpClose, tcpSynSent, client, events.Owner{}, false)
	open.SPort, open.Src = 0, [16]byte{} // connect() picks the port after the change is traced
	return []events.Record{
		open,
		sv(events.KindState, tcpListen, tcpSynRecv, kernel, kernel),
		cl(events.KindState, tcpSynSent, tcpEstablished, client, client, false),
		sv(events.KindState, tcpSynRecv, tcpEstablished, kernel, kernel),
		sv(events.KindOwner, tcpEstablished, tcpEstablished, server, kernel),
		cl(events.KindState, tcpEstablished, tcpFinWait1, client, client, false),
		sv(events.KindState, tcpEstablished, tcpCloseWait, server, server),
		cl(events.KindState, tcpFinWait1, tcpFinWait2, kernel, client, false),
		sv(events.KindState, tcpCloseWait, tcpLastAck, server, server),
		cl(events.KindState, tcpFinWait2, tcpTimeWait, kernel, kernel, true),
		sv(events.KindState, tcpLastAck, tcpClose, kernel, server),
	}
}

// encodeRecord writes r as the programs do (the inverse of
// events.Decode), for the benchmark to decode as the reader does.
func encodeRecord(r *events.Record) []byte {
	b := make([]byte, events.RecordSize)
	ne := binary.NativeEndian
	ne.PutUint64(b[0:], r.Time)
	ne.PutUint64(b[8:], r.Cookie)
	ne.PutUint64(b[16:], r.Birth)
	ne.PutUint64(b[24:], r.Lost)
	for i, o := range []events.Owner{r.Owner, r.Prev} {
		ob := b[32+32*i:]
		ne.PutUint64(ob[0:], o.Start)
		ne.PutUint32(ob[8:], o.PID)
		ob[12] = byte(o.Kind)
		copy(ob[16:32], o.Comm)
	}
	copy(b[96:], r.Src[:])
	copy(b[112:], r.Dst[:])
	ne.PutUint32(b[128:], r.Inode)
	ne.PutUint32(b[132:], r.UID)
	ne.PutUint32(b[136:], r.IfIndex)
	ne.PutUint16(b[140:], r.SPort)
	ne.PutUint16(b[142:], r.DPort)
	ne.PutUint16(b[144:], uint16(r.Family))
	b[146], b[147], b[148] = byte(r.Kind), r.Old, r.New
	if r.TimeWait {
		b[149] = 1
	}
	return b
}

// BenchmarkTraceDispatch times the reader's work per record, from the
// ring's bytes to the callback of one Trace of every row: decoding,
// rows, the query's view, the callback. It needs no privilege: the
// records are those of loopback lifecycles, made up.
func BenchmarkTraceDispatch(b *testing.B) {
	p, err := New(WithoutBirthTimes())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	const lifecycles = 4096
	var samples [][]byte
	for i := range uint64(lifecycles) {
		for _, r := range lifecycleRecords(i) {
			samples = append(samples, encodeRecord(&r))
		}
	}
	h := &hub{p: p, rec: noRecorder{}}
	h.conv = converter{clock: events.NewClock(1e12, time.Unix(1.7e9, 0)), zone: p.zoner(), seed: map[uint64]owned{}}
	h.conv.module = func(*events.Owner) string { return "/usr/bin/x" }
	h.pending, h.tw, h.twPairs = map[uint64]*pendingOpen{}, map[uint64]twRow{}, map[addrPair]uint64{}
	var n int
	s := &subscriber{q: tcptable.Query{}, fn: func(tcptable.Event) error { n++; return nil }, done: make(chan struct{})}
	h.subs = append(h.subs, s)
	var r events.Record
	var dec events.Decoder
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if err := dec.Decode(samples[i], &r); err != nil {
			b.Fatal(err)
		}
		h.record(&r)
		if i++; i == len(samples) {
			i = 0
			// The minisockets end (as the poll would find), so the
			// followed set stays the size of a few thousand.
			clear(h.tw)
			clear(h.twPairs)
			h.twLog, h.twFams = h.twLog[:0], [2]int{}
		}
	}
	b.ReportMetric(float64(n)/float64(b.N), "events/record")
}

// noRecorder is a kernelRecorder that loses nothing and reads nothing.
type noRecorder struct{}

func (noRecorder) Read(*events.Record, time.Time) error { return events.ErrTimeout }
func (noRecorder) Lost() (uint64, error)                { return 0, nil }
func (noRecorder) Missed() (uint64, error)              { return 0, nil }
func (noRecorder) SetFilter(events.Filter, bool) error  { return nil }
func (noRecorder) Clock() events.Clock                  { return events.Clock{} }
