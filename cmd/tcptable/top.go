package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/tcptable/tcptable"
)

// top is --top: every interval it polls the table with statistics and
// shows the busiest connections and processes by bytes per second since
// the previous poll, until ctx ends (Ctrl-C). On a terminal it redraws one
// screen in place, as top does, in the terminal's alternate screen, which
// it leaves again on exit; otherwise it prints one block a poll, or one
// JSON object a poll with --ndjson. The first rates come with the second
// poll.
func (a *app) top(ctx context.Context, p tcptable.Provider, o *options, d *display) int {
	scr := newScreen(a.stdout, a.terminal)
	if scr.tty {
		scr.enter()
	}
	err := a.topLoop(ctx, p, o, d, scr)
	if scr.tty {
		scr.leave()
	}
	if err != nil {
		a.errorf("%v", err)
		return exitFail
	}
	return exitOK
}

// topLoop polls and draws until ctx ends or something fails.
func (a *app) topLoop(ctx context.Context, p tcptable.Provider, o *options, d *display, scr *screen) error {
	tick := time.NewTicker(o.top)
	defer tick.Stop()
	var r rater
	for {
		rows, err := p.Table(ctx, o.query)
		now := a.now()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, tcptable.ErrInconsistent) && rows != nil:
			// A table that changed while it was read still has the
			// counters of every row it lists.
		case err != nil:
			return err
		}
		f, ok := r.next(rows, now)
		switch {
		case o.format == formatNDJSON && ok:
			err = writeNDJSON(a.stdout, []topJSON{f.json()})
		case scr.tty:
			w, h := scr.size()
			err = scr.draw(d.topScreen(f, ok, o.top, w, h))
		case ok:
			err = d.writeTopBlock(a.stdout, f, o.top)
		}
		if err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// topRow is a connection of a --top frame and its rates.
type topRow struct {
	c          *tcptable.Connection
	send, recv float64 // bytes per second since the previous poll
}

// busy is what the rows are ranked by.
func (r *topRow) busy() float64 { return r.send + r.recv }

// topProc is a process of a --top frame: the sum of its connections.
type topProc struct {
	pid        uint32
	cell       string // processCell of its rows
	name       string // Module.Name of its rows
	conns      int
	send, recv float64
}

// topFrame is what one poll of --top shows.
type topFrame struct {
	at         time.Time
	elapsed    time.Duration // since the previous poll
	rows       []topRow      // connections with Stats, busiest first
	procs      []topProc     // busiest first
	send, recv float64       // totals
}

// rater turns successive answers into rates: the growth of each
// connection's byte counters since the previous poll, over the time
// between the polls. A connection the previous poll did not list was born
// since, so all its bytes count; one whose counters went down (a four-tuple
// used again) starts over likewise.
type rater struct {
	prev map[tcptable.Key]tcptable.Stats
	at   time.Time
}

// next takes a poll's rows at now and returns its frame, or false for the
// first poll (nothing to compare with yet).
func (r *rater) next(rows []tcptable.Connection, now time.Time) (topFrame, bool) {
	cur := make(map[tcptable.Key]tcptable.Stats, len(rows))
	f := topFrame{at: now, elapsed: now.Sub(r.at)}
	first := r.prev == nil
	secs := f.elapsed.Seconds()
	type procID struct {
		pid  uint32
		cell string
	}
	procs := map[procID]*topProc{}
	for i := range rows {
		c := &rows[i]
		if c.Stats == nil || c.State == tcptable.StateListen {
			continue
		}
		k := c.Key()
		cur[k] = *c.Stats
		if first || secs <= 0 {
			continue
		}
		sent, recv := c.Stats.BytesSent, c.Stats.BytesReceived
		if was, ok := r.prev[k]; ok && sent >= was.BytesSent && recv >= was.BytesReceived {
			sent, recv = sent-was.BytesSent, recv-was.BytesReceived
		}
		row := topRow{c: c, send: float64(sent) / secs, recv: float64(recv) / secs}
		f.rows = append(f.rows, row)
		f.send += row.send
		f.recv += row.recv
		id := procID{c.PID, processCell(c)}
		pr := procs[id]
		if pr == nil {
			pr = &topProc{pid: c.PID, cell: id.cell, name: c.Module.Name}
			procs[id] = pr
		}
		pr.conns++
		pr.send += row.send
		pr.recv += row.recv
	}
	r.prev, r.at = cur, now
	if first {
		return f, false
	}
	slices.SortFunc(f.rows, func(a, b topRow) int {
		return cmp.Or(cmp.Compare(b.busy(), a.busy()), cmp.Compare(b.send, a.send), cmpIdentity(a.c, b.c))
	})
	for _, pr := range procs {
		f.procs = append(f.procs, *pr)
	}
	slices.SortFunc(f.procs, func(a, b topProc) int {
		return cmp.Or(cmp.Compare(b.send+b.recv, a.send+a.recv), cmp.Compare(a.pid, b.pid), cmp.Compare(a.cell, b.cell))
	})
	return f, true
}

// Rows of the plain (not a terminal) blocks.
const (
	plainProcs = 10
	plainConns = 20
)

// rate prints a rate for people: "0", "512", "1.5K" (a unit per second is
// in the column's name).
func rate(v float64) string { return humanBytes(math.Round(v)) }

// topHeader is the first line of a frame.
func (d *display) topHeader(f *topFrame, interval time.Duration) string {
	return fmt.Sprintf("tcptable --top  every %v  %s  %d connections  send %s/s  receive %s/s",
		interval, f.at.In(d.tz).Format(time.TimeOnly), len(f.rows), rate(f.send), rate(f.recv))
}

// topSections returns the process and connection tables of a frame, with
// at most procs and conns rows, aligned, as lines.
func (d *display) topSections(f *topFrame, procs, conns int) (p, c []string) {
	p = []string{"PID\tPROCESS\tCONNS\tSEND/s\tRECV/s"}
	for _, pr := range f.procs[:min(procs, len(f.procs))] {
		pid := "-"
		if pr.pid != 0 {
			pid = fmt.Sprint(pr.pid)
		}
		p = append(p, fmt.Sprintf("%s\t%s\t%d\t%s\t%s", pid, pr.cell, pr.conns, rate(pr.send), rate(pr.recv)))
	}
	c = []string{"STATE\tLOCAL\tREMOTE\tPID\tPROCESS\tSEND/s\tRECV/s\tSENT\tRECEIVED\tRTT"}
	for _, r := range f.rows[:min(conns, len(f.rows))] {
		st := r.c.Stats
		c = append(c, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", r.c.State, d.addr(r.c.Local), d.addr(r.c.Remote),
			pidCell(r.c), processCell(r.c), rate(r.send), rate(r.recv),
			humanBytes(float64(st.BytesSent)), humanBytes(float64(st.BytesReceived)), millis(st.RTT)))
	}
	return align(p), align(c)
}

// writeTopBlock prints a frame as a plain block: a header, the busiest
// processes and connections, and a blank line.
func (d *display) writeTopBlock(w io.Writer, f topFrame, interval time.Duration) error {
	p, c := d.topSections(&f, plainProcs, plainConns)
	lines := append(append(append([]string{d.topHeader(&f, interval), ""}, p...), ""), c...)
	for _, l := range append(lines, "") {
		if _, err := io.WriteString(w, l+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// topScreen lays a frame out on a terminal of width × height: the header,
// then the busiest processes (a third of the rows left, at least one) and
// the busiest connections in the rest, every line cut to the width. ok
// false (no rates yet) shows the header only, saying so.
func (d *display) topScreen(f topFrame, ok bool, interval time.Duration, width, height int) []string {
	if !ok {
		return fitLines([]string{fmt.Sprintf("tcptable --top  every %v  %s  measuring...", interval, f.at.In(d.tz).Format(time.TimeOnly))}, width, height)
	}
	// Header, blank, process header, blank, connection header.
	room := max(height-5, 0)
	procs := min(len(f.procs), max(room/3, 1))
	p, c := d.topSections(&f, procs, room-procs)
	lines := append(append(append([]string{d.topHeader(&f, interval), ""}, p...), ""), c...)
	return fitLines(lines, width, height)
}

// fitLines keeps the first height lines, each cut to width characters.
func fitLines(lines []string, width, height int) []string {
	lines = lines[:min(len(lines), max(height, 0))]
	for i, l := range lines {
		if r := []rune(l); len(r) > width {
			lines[i] = string(r[:max(width, 0)])
		}
	}
	return lines
}

// topJSON is one --top --ndjson line: the totals and every process and
// connection that moved bytes since the previous poll, busiest first.
type topJSON struct {
	Time        string        `json:"time"`
	Interval    float64       `json:"interval_seconds"`
	Send        uint64        `json:"send_bytes_per_sec"`
	Recv        uint64        `json:"receive_bytes_per_sec"`
	Processes   []topProcJSON `json:"processes"`
	Connections []topConnJSON `json:"connections"`
}

type topProcJSON struct {
	PID         uint32 `json:"pid"`
	Process     string `json:"process"`
	Connections int    `json:"connections"`
	Send        uint64 `json:"send_bytes_per_sec"`
	Recv        uint64 `json:"receive_bytes_per_sec"`
}

type topConnJSON struct {
	Connection *tcptable.Connection `json:"connection"`
	Send       uint64               `json:"send_bytes_per_sec"`
	Recv       uint64               `json:"receive_bytes_per_sec"`
}

// json returns f as a --top --ndjson line.
func (f *topFrame) json() topJSON {
	round := func(v float64) uint64 { return uint64(math.Round(v)) }
	out := topJSON{Time: formatTime(f.at), Interval: f.elapsed.Seconds(), Send: round(f.send), Recv: round(f.recv),
		Processes: []topProcJSON{}, Connections: []topConnJSON{}}
	for _, p := range f.procs {
		if p.send+p.recv > 0 {
			out.Processes = append(out.Processes, topProcJSON{p.pid, p.name, p.conns, round(p.send), round(p.recv)})
		}
	}
	for _, r := range f.rows {
		if r.busy() > 0 {
			out.Connections = append(out.Connections, topConnJSON{r.c, round(r.send), round(r.recv)})
		}
	}
	return out
}
