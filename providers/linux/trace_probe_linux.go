package linux

import (
	"context"
	"time"

	"github.com/tcptable/tcptable"
)

// The reader learns from dumps of the table what no tracepoint reports:
// the local ports of held openings (the SYN-SENT sockets) and the ends of
// TIME-WAIT minisockets (the TIME-WAIT and FIN-WAIT-2 ones). A dump walks
// the whole connection hash (tens of milliseconds with 100,000 TIME-WAIT
// minisockets), and comparing 100,000 minisockets with the ones followed
// takes as long again: time in which a busy ring would fill. So the
// reader hands each dump, and the comparison, to another goroutine (a
// probe) and keeps reading; the probe keeps its own copy of the followed
// minisockets (a mirror), which the reader keeps up to date with a log of
// what it started and stopped following. The reader applies the result
// once it comes, to what it knew when it asked (what it learnt since is
// newer than the dump).

// probe is one dump the reader asked for.
type probe struct {
	start uint64    // h.count when asked
	at    time.Time // when asked
	// mirror, when the minisockets are asked for, is the probe's copy of
	// the followed ones, and log what changed in them since the last
	// probe; gone and moved are the result: the followed minisockets the
	// dump no longer shows, and those it shows in another state.
	mirror *twMirror
	log    []twOp
	reset  bool // the log starts from nothing
	gone   []uint64
	moved  []twMove
	// ports holds the SYN-SENT sockets by cookie; nil if not asked for.
	ports map[uint64]diagRow
	// fams are the families to dump: each dump walks the whole hash of
	// connections, so a family nothing is asked of is skipped.
	fams [2]bool   // afInet, afInet6
	diag *diagConn // the reader's sock_diag socket, lent for the dump
	err  error     // the dump failed, and so did opening a new socket
}

// twOp is a change of the followed minisockets, logged for the mirror.
type twOp struct {
	cookie uint64
	seq    uint64 // h.count when followed
	state  uint8
	fam    uint8
	forget bool
}

// twMove is a followed minisocket a dump shows in another state.
type twMove struct {
	cookie uint64
	state  uint8
}

// twMirror is the probes' copy of the followed minisockets, and the
// minisockets the last dump showed (kept to reuse the map).
type twMirror struct {
	followed map[uint64]twOp
	seen     map[uint64]uint8
}

// logTW logs a change of the followed minisockets for the next probe. A
// log grown much longer than the followed set is replaced by the set.
func (h *hub) logTW(op twOp) {
	if len(h.twLog) > 2*len(h.tw)+1<<16 {
		h.twLog, h.twReset = h.twLog[:0], true
		for ck, t := range h.tw {
			h.twLog = append(h.twLog, twOp{cookie: ck, seq: t.seq, state: t.d.State, fam: t.d.Family})
		}
		if op.forget {
			return
		}
	}
	h.twLog = append(h.twLog, op)
}

// startProbe asks for a dump of the minisockets (tw) and of the SYN-SENT
// sockets (ports) in another goroutine, which lends it the sock_diag
// socket; h.probed gets the result. Called by the reader, not while a
// probe runs.
func (h *hub) startProbe(now time.Time, tw, ports bool) {
	p := &probe{start: h.count, at: now, diag: h.diag}
	if tw {
		p.fams = [2]bool{h.twFams[0] > 0, h.twFams[1] > 0}
		p.mirror, p.log, p.reset = h.mirror, h.twLog, h.twReset
		h.mirror, h.twLog, h.twReset = nil, h.spareLog[:0], false
		if p.mirror == nil {
			p.mirror = &twMirror{followed: map[uint64]twOp{}, seen: map[uint64]uint8{}}
		}
	}
	if ports {
		for _, o := range h.pending {
			p.fams[famIndex(o.rec.Family)] = true
		}
		p.ports = map[uint64]diagRow{}
	}
	h.diag, h.probing = nil, true
	go func() {
		h.dumpProbe(p)
		h.probed <- p
	}()
}

// dumpProbe makes p's dumps and compares. A dump that fails leaves p
// without results and with a new sock_diag socket (or the error opening
// one).
func (h *hub) dumpProbe(p *probe) {
	m := p.mirror
	if m != nil {
		if p.reset {
			clear(m.followed)
		}
		for _, op := range p.log {
			if op.forget {
				delete(m.followed, op.cookie)
			} else {
				m.followed[op.cookie] = op
			}
		}
		clear(m.seen)
	}
	if p.diag == nil {
		if p.diag, p.err = h.p.newDiagConn(); p.err != nil {
			p.ports = nil
			return
		}
	}
	var states uint32
	if m != nil {
		states |= 1<<tcpTimeWait | 1<<tcpFinWait2
	}
	if p.ports != nil {
		states |= 1 << tcpSynSent
	}
	for _, fam := range []uint8{afInet, afInet6} {
		if !p.fams[famIndex(fam)] {
			continue
		}
		// One dump for both: one walk of the hash.
		_, err := p.diag.dump(context.Background(), fam, states, 0, func(d *diagRow) {
			switch {
			case d.State == tcpSynSent:
				if p.ports != nil {
					p.ports[d.Cookie] = *d
				}
			case d.Inode == 0 && m != nil:
				m.seen[d.Cookie] = d.State
			}
		})
		if err != nil {
			// The socket may hold the rest of a dump: a new one, and
			// nothing learnt (a partial dump would end minisockets that
			// live).
			p.diag.close()
			p.diag, p.err = h.p.newDiagConn()
			p.ports = nil
			return
		}
	}
	if m == nil {
		return
	}
	for ck, f := range m.followed {
		if !p.fams[famIndex(f.fam)] {
			continue
		}
		st, ok := m.seen[ck]
		switch {
		case !ok:
			p.gone = append(p.gone, ck)
			delete(m.followed, ck)
		case st != f.state:
			p.moved = append(p.moved, twMove{ck, st})
			f.state = st
			m.followed[ck] = f
		}
	}
}

// probeDone applies a probe's result. Called by the reader.
func (h *hub) probeDone(p *probe) {
	h.probing, h.diag = false, p.diag
	if p.mirror != nil {
		h.mirror, h.spareLog = p.mirror, p.log
	}
	if p.err != nil {
		h.fail(p.err)
		return
	}
	h.settleTimeWait(p)
	if p.ports != nil {
		h.settlePending(p, false)
	}
}

// awaitProbe waits for the probe in flight, if any, and applies it.
func (h *hub) awaitProbe() {
	if h.probing {
		h.probeDone(<-h.probed)
	}
}

// settleTimeWait reports the minisockets the trace followed when p was
// asked for that p's dump no longer shows (ended) or shows in another
// state (FIN-WAIT-2 to TIME-WAIT), stamped with the time p was asked for.
func (h *hub) settleTimeWait(p *probe) {
	t := p.at.UTC()
	for _, ck := range p.gone {
		if tr, ok := h.tw[ck]; ok && tr.seq <= p.start {
			h.forgetTW(ck)
			h.broadcast(changeClosed, h.conv.twConn(&tr), tcptable.Connection{}, t)
		}
	}
	for _, mv := range p.moved {
		if tr, ok := h.tw[mv.cookie]; ok && tr.seq <= p.start {
			before := h.conv.twConn(&tr)
			tr.d.State = mv.state
			h.tw[mv.cookie] = tr
			h.broadcast(changeUpdated, before, h.conv.twConn(&tr), t)
		}
	}
}

// settlePending reports the openings held when p was asked for whose port
// p's dump found. One that a dump did not find twice, held for a second
// or more (all of them with force), has moved on and its next record was
// lost (or is far behind in the ring): it is reported lost rather than
// guessed.
func (h *hub) settlePending(p *probe, force bool) {
	for ck, o := range h.pending {
		if o.seq > p.start {
			continue
		}
		if d, ok := p.ports[ck]; ok && d.SPort != 0 {
			h.unhold(ck, o)
			o.rec.SPort = d.SPort
			copy(o.rec.Src[:], d.Src[:])
			h.dispatch(&o.rec)
			continue
		}
		if o.tries++; force || (o.tries >= 2 && p.at.Sub(o.seen) >= pendingGiveUp) {
			h.unhold(ck, o)
			h.broadcastLost(1)
		}
	}
}

// pendingGiveUp is how long an opening is held at least before it is
// reported lost.
const pendingGiveUp = time.Second
