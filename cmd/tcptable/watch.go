package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

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
// process. A change shows before and after with '>' ("ESTABLISHED>TIME-WAIT",
// "4242>-"). A loss says how many events were lost.
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
		ns = fmt.Sprintf("%-12s ", netnsCell(r))
	}
	return fmt.Sprintf("%s %-13s %s%-22s %-21s %-21s %-7s %s\n",
		d.stamp(e.Time), e.Kind, ns, state, d.addr(r.Local), d.addr(r.Remote), pid, process)
}
