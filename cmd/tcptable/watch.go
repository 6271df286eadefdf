package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tcptable/tcptable"
)

// watch prints every change until ctx ends (Ctrl-C): one line an event, or
// one JSON object a line with --ndjson, and with --summary a line of counts
// after the baseline and after every batch of changes. It follows kernel
// events where the provider and the OS offer them (unless --poll), polls
// otherwise, and says which on stderr.
func (a *app) watch(ctx context.Context, p filtered, o *options, d *display) int {
	opts := []tcptable.WatcherOption{tcptable.WithClock(a.now), tcptable.WithInterval(o.watch)}
	if o.poll {
		opts = append(opts, tcptable.WithoutTrace())
	}
	w := tcptable.NewWatcher(p, o.query, opts...)
	defer w.Close()
	var said tcptable.WatchSource // the source stderr last named
	first, hidden := true, false
	for {
		events, err := w.Next(ctx)
		switch {
		case ctx.Err() != nil:
			return exitOK
		case errors.Is(err, tcptable.ErrInconsistent):
			// Skipped: the next poll diffs against the last good snapshot.
			continue
		case err != nil:
			a.errorf("%v", err)
			return exitFail
		}
		if src := w.Source(); src != said {
			shown := src
			if _, traces := p.(tcptable.Tracer); !traces && !o.poll {
				// The Watcher names the provider it was given: the filter.
				shown.Reason = fmt.Sprintf("%T has no kernel events (no tcptable.Tracer)", p.filter().p)
			}
			a.sayingSource(shown, said, len(w.Table()), o)
			said = src
		}
		if !hidden {
			hidden = a.noteHidden(p, o.query)
		}
		if first {
			a.noteSkippedNetNS(p)
			d.ev = sizeEvents(d, w.Table(), w.PolledAt())
			if o.format != formatNDJSON && !o.noHeader {
				if _, err := io.WriteString(a.stdout, d.eventHeader()); err != nil {
					a.errorf("writing output: %v", err)
					return exitFail
				}
			}
		}
		if err := a.printEvents(ctx, events, o, d); err != nil {
			a.errorf("writing output: %v", err)
			return exitFail
		}
		if o.summary && (first || len(events) > 0) {
			if err := a.printSummary(w.Table(), w.PolledAt(), o, d); err != nil {
				a.errorf("writing output: %v", err)
				return exitFail
			}
		}
		first = false
	}
}

// sayingSource tells on stderr where the events come from: once at the
// start, and again if a trace gives way to polling.
func (a *app) sayingSource(src, before tcptable.WatchSource, endpoints int, o *options) {
	reason := src.Reason
	if o.poll {
		reason = "--poll"
	}
	switch {
	case src.Traced:
		a.errorf("watching %d endpoints with kernel events (%s); Ctrl-C stops", endpoints, printable(src.Name))
	case before.Traced:
		a.errorf("kernel events ended (%s): polling every %v from now on", printable(reason), o.watch)
	default:
		a.errorf("watching %d endpoints, polling every %v: %s; Ctrl-C stops", endpoints, o.watch, printable(reason))
	}
}

// printEvents prints one poll's events.
func (a *app) printEvents(ctx context.Context, events []tcptable.Event, o *options, d *display) error {
	if o.format == formatNDJSON {
		return writeNDJSON(a.stdout, events)
	}
	if d.names != nil {
		addrs := make([]netip.Addr, 0, 2*len(events))
		for i := range events {
			if events[i].Kind != tcptable.EventLost {
				r := events[i].Row()
				addrs = append(addrs, r.Local.Addr(), r.Remote.Addr())
			}
		}
		resolveNames(ctx, a.lookup, a.resolveTimeout, d.names, addrs)
	}
	for i := range events {
		if _, err := io.WriteString(a.stdout, d.eventLine(&events[i])); err != nil {
			return err
		}
	}
	return nil
}

// printSummary prints the --watch --summary line.
func (a *app) printSummary(rows []tcptable.Connection, now time.Time, o *options, d *display) error {
	s := summarize(rows)
	if o.format == formatNDJSON {
		b, err := json.Marshal(struct {
			Time    string   `json:"time"`
			Summary *summary `json:"summary"`
		}{formatTime(now), s})
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(append(b, '\n'))
		return err
	}
	_, err := fmt.Fprintf(a.stdout, "%s %-13s %s\n", d.stamp(now), "summary", s.line())
	return err
}

// stamp formats an event time for people: local time to the millisecond.
func (d *display) stamp(t time.Time) string {
	return t.In(d.tz).Format("2006-01-02T15:04:05.000Z07:00")
}

// eventLine is one --watch line: time, event, state, local, remote, PID,
// with -i the statistics of the row (after the change; the last known of a
// closed row), and process. A change shows before and after with '>'
// ("ESTABLISHED>TIME-WAIT", "4242>-"). A loss says how many events were
// lost.
func (d *display) eventLine(e *tcptable.Event) string {
	if e.Kind == tcptable.EventLost {
		n := "some"
		if e.Lost > 0 {
			n = strconv.FormatUint(e.Lost, 10)
		}
		return fmt.Sprintf("%s %-13s %s kernel events were lost; the changes they carried follow from a new snapshot\n", d.stamp(e.Time), e.Kind, n)
	}
	r := e.Row()
	state, pid, process := r.State.String(), pidCell(r), processCell(r)
	switch e.Kind {
	case tcptable.EventStateChanged:
		state = e.Before.State.String() + ">" + state
	case tcptable.EventOwnerChanged:
		pid = pidCell(&e.Before) + ">" + pid
		process = processCell(&e.Before) + ">" + process
	}
	ns := ""
	if d.netns {
		ns = netnsCell(r)
	}
	var stats []string
	if d.stats {
		stats = statsCells(r)
	}
	return d.ev.line(d.stamp(e.Time), e.Kind.String(), ns, state, d.addr(r.Local), d.addr(r.Remote), pid, stats, process)
}

// eventCols are the widths of the --watch columns. Those that vary with
// the table are sized from the baseline, as the table's are from its rows,
// so that the lines line up under the header: both endpoint columns fit
// the widest endpoint, the PID column a change between the widest PID
// cells ("4242,4243>4242"), the NETNS column the widest namespace. A later
// cell wider than that pushes the rest of its own line only. With -i the
// statistics columns (the one-shot table's, statsHeader) come before
// PROCESS, which stays last because nothing bounds its width.
type eventCols struct {
	netns int // 0: no NETNS column
	time  int
	addr  int
	pid   int
	stats bool // -i: the statistics columns
}

// The --watch columns' least widths: an event kind, a state change
// ("ESTABLISHED>CLOSE-WAIT"), an IPv4 endpoint, a PID change, a namespace.
const (
	eventWidth = 13
	statWidth  = 8 // each statistics column: "RECEIVED", "12.345ms"
	stateWidth = 22
	addrWidth  = 21
	pidWidth   = 7
	netnsWidth = 12
)

// sizeEvents returns the widths of the --watch columns for the baseline
// rows, read at t.
func sizeEvents(d *display, rows []tcptable.Connection, t time.Time) eventCols {
	c := eventCols{time: utf8.RuneCountInString(d.stamp(t)), addr: addrWidth, pid: pidWidth, stats: d.stats}
	if d.netns {
		c.netns = netnsWidth
	}
	for i := range rows {
		r := &rows[i]
		c.addr = max(c.addr, utf8.RuneCountInString(d.addr(r.Local)), utf8.RuneCountInString(d.addr(r.Remote)))
		c.pid = max(c.pid, 2*utf8.RuneCountInString(pidCell(r))+1)
		if d.netns {
			c.netns = max(c.netns, utf8.RuneCountInString(netnsCell(r)))
		}
	}
	return c
}

// line formats one --watch line (or the header) in the columns of c, with
// the statistics cells stats when c has those columns.
func (c eventCols) line(at, kind, ns, state, local, remote, pid string, stats []string, process string) string {
	if c.time == 0 { // not sized: a line before any baseline
		c = eventCols{netns: c.netns, addr: addrWidth, pid: pidWidth, stats: c.stats}
	}
	if c.netns > 0 {
		ns = fmt.Sprintf("%-*s ", c.netns, ns)
	} else {
		ns = ""
	}
	var st strings.Builder
	for i := 0; c.stats && i < len(statsHeader); i++ {
		cell := "-"
		if i < len(stats) {
			cell = stats[i]
		}
		fmt.Fprintf(&st, "%-*s ", statWidth, cell)
	}
	return fmt.Sprintf("%-*s %-*s %s%-*s %-*s %-*s %-*s %s%s\n", c.time, at, eventWidth, kind, ns, stateWidth, state,
		c.addr, local, c.addr, remote, c.pid, pid, st.String(), process)
}

// eventHeader is the --watch header line, over the columns of d.ev.
func (d *display) eventHeader() string {
	return d.ev.line("TIME", "EVENT", "NETNS", "STATE", "LOCAL", "REMOTE", "PID", statsHeader[:], "PROCESS")
}
