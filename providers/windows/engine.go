package windows

import (
	"context"
	"slices"
	"unsafe"

	"github.com/tcptable/tcptable"
)

// Arguments of GetExtendedTcpTable.
const (
	afInet  = 2  // AF_INET
	afInet6 = 23 // AF_INET6 on Windows

	tcpTableOwnerModuleListener    = 6 // TCP_TABLE_OWNER_MODULE_LISTENER
	tcpTableOwnerModuleConnections = 7 // TCP_TABLE_OWNER_MODULE_CONNECTIONS (never used: wrong under Wine)
	tcpTableOwnerModuleAll         = 8 // TCP_TABLE_OWNER_MODULE_ALL
)

// tableOS reads the TCP table: GetExtendedTcpTable on Windows, fakes in
// tests. Its contract is fillFunc's, for address family af and table
// class.
type tableOS interface {
	tcpTable(b []byte, size *uint32, af, class uint32, order bool) error
}

// engine is the provider's work, apart from the calls into Windows, which
// it makes through tableOS, moduleOS (in res), estatsOS (in stats) and
// killOS: so that it is tested on every OS with fakes, and on Windows and
// Wine with the real thing. It is used under Provider.mu.
type engine struct {
	cfg  config
	os   tableOS
	wine bool // running under Wine: see docs/windows.md for what changes

	bufs    [2][]byte             // the IPv4 and IPv6 table buffers, reused
	scratch []tcptable.Connection // decoded rows before filtering, reused
	src     []int32               // after read, row j is row src[j] of its buffer
	dedup   deduper
	res     *resolver
	stats   *statsTracker
}

func newEngine(cfg config, t tableOS, m moduleOS, s estatsOS, wine bool) *engine {
	return &engine{cfg: cfg, os: t, wine: wine, dedup: newDeduper(), res: newResolver(m), stats: newStatsTracker(s)}
}

// table answers Provider.Table: IPv4 first, then IPv6, returning the rows
// already read with the error when the second family fails.
func (e *engine) table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	e.res.begin()
	defer e.res.sweep()
	e.stats.begin()
	var out []tcptable.Connection
	for i, fam := range [...]tcptable.Family{tcptable.IPv4, tcptable.IPv6} {
		if !q.MatchFamily(fam) {
			continue
		}
		var err error
		if out, err = e.family(ctx, q, i, fam, out); err != nil {
			return out, err
		}
	}
	return out, nil
}

// readRaw fills e.bufs[i] with family fam's table (of the LISTENER class if
// listeners is set, else ALL) and decodes it into e.scratch: row j is the
// buffer's row j, duplicates included.
func (e *engine) readRaw(i int, fam tcptable.Family, listeners bool) ([]tcptable.Connection, error) {
	af, class := uint32(afInet), uint32(tcpTableOwnerModuleAll)
	if fam == tcptable.IPv6 {
		af = afInet6
	}
	if listeners {
		// The LISTENER class is right everywhere; CONNECTIONS is not
		// pushed down, since Wine returns only ESTABLISHED rows for it.
		class = tcpTableOwnerModuleListener
	}
	if e.bufs[i] == nil {
		e.bufs[i] = make([]byte, e.cfg.initialSize)
	}
	buf, err := negotiate("GetExtendedTcpTable("+fam.String()+")", e.bufs[i], e.cfg.tries, maxBufferSize,
		func(b []byte, size *uint32) error { return e.os.tcpTable(b, size, af, class, false) })
	e.bufs[i] = buf
	if err != nil {
		return nil, err
	}
	rows, err := decodeTable(e.scratch[:0], buf, fam)
	e.scratch = rows
	return rows, err
}

// read is readRaw without duplicate rows: e.src maps each row to its row
// in the buffer.
func (e *engine) read(i int, fam tcptable.Family, listeners bool) ([]tcptable.Connection, error) {
	rows, err := e.readRaw(i, fam, listeners)
	if err != nil {
		return nil, err
	}
	e.src = slices.Grow(e.src[:0], len(rows))[:len(rows)]
	return e.dedup.dedupe(rows, e.src), nil
}

// rawRow returns row j of the buffer of family index i, whose rows are
// size bytes long.
func (e *engine) rawRow(i, size, j int) []byte {
	return e.bufs[i][tableHeaderSize+j*size:][:size]
}

// family appends the rows of one family's table that q matches.
func (e *engine) family(ctx context.Context, q tcptable.Query, i int, fam tcptable.Family, out []tcptable.Connection) ([]tcptable.Connection, error) {
	if err := ctx.Err(); err != nil {
		return out, err
	}
	listeners := q.Class == tcptable.ClassListeners
	rows, err := e.read(i, fam, listeners)
	if err != nil {
		return out, err
	}
	l, _ := layoutOf(fam)
	ipv6 := fam == tcptable.IPv6
	detail := q.Detail()
	track := !listeners && e.stats.tracking()
	for j := range rows {
		if j%256 == 255 {
			if err := ctx.Err(); err != nil {
				return out, err
			}
		}
		c := rows[j]
		if e.wine {
			wineZones(&c)
		}
		if track {
			e.stats.seen(&c)
		}
		if !q.MatchState(c.State) || !q.MatchAddr(&c) {
			continue
		}
		raw := e.rawRow(i, l.size, int(e.src[j]))
		e.owner(&c, detail, unsafe.Pointer(&raw[0]), ipv6)
		if q.Stats {
			e.stats.fill(&c, raw, ipv6)
		} else {
			c.StatsStatus = tcptable.StatsNotRequested
		}
		if q.Match(c) {
			out = append(out, c)
		}
	}
	if track {
		e.stats.sweep(fam)
	}
	return out, nil
}

// owner sets c's owner fields for the detail the query asks for.
func (e *engine) owner(c *tcptable.Connection, detail tcptable.OwnerDetail, row unsafe.Pointer, ipv6 bool) {
	if !detail.WantPIDs() {
		c.PID, c.OwnerStatus, c.ModuleStatus = 0, tcptable.OwnerNotRequested, tcptable.OwnerNotRequested
		return
	}
	if e.wine && c.PID == pidIdle && c.State != tcptable.StateTimeWait {
		// Wine attributes only sockets whose fd the calling process holds;
		// PID 0 says "not known", not "the Idle process".
		c.OwnerStatus, c.ModuleStatus = tcptable.OwnerNotSupported, tcptable.OwnerNotSupported
	}
	if !detail.WantModules() {
		c.ModuleStatus = tcptable.OwnerNotRequested
		return
	}
	e.res.resolve(c, row, ipv6)
}

// release drops the reused buffers.
func (e *engine) release() {
	e.bufs, e.scratch, e.src, e.dedup.slots = [2][]byte{}, nil, nil, nil
}
