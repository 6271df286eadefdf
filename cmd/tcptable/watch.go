package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/tcptable/tcptable"
)

// watch prints every change until ctx ends (Ctrl-C): one line an event, or
// one JSON object a line with --ndjson, and with --summary a line of counts
// after the first poll and after every poll that changed something.
func (a *app) watch(ctx context.Context, p *ownerFilter, o *options, d *display) int {
	w := tcptable.NewWatcher(p, o.query, tcptable.WithClock(a.now))
	tick := time.NewTicker(o.watch)
	defer tick.Stop()
	first, hidden := true, false
	for {
		events, err := w.Poll(ctx)
		switch {
		case ctx.Err() != nil:
			return exitOK
		case errors.Is(err, tcptable.ErrInconsistent):
			// Skipped: the next poll diffs against the last good snapshot.
		case err != nil:
			a.errorf("%v", err)
			return exitFail
		default:
			if first {
				fmt.Fprintf(a.stderr, "tcptable: watching %d endpoints every %v; Ctrl-C stops\n", len(w.Table()), o.watch)
			}
			if !hidden {
				hidden = a.noteHidden(p, o.query)
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
		select {
		case <-ctx.Done():
			return exitOK
		case <-tick.C:
		}
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
			r := events[i].Row()
			addrs = append(addrs, r.Local.Addr(), r.Remote.Addr())
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
// "4242>-").
func (d *display) eventLine(e *tcptable.Event) string {
	r := e.Row()
	state, pid, process := r.State.String(), pidCell(r), processCell(r)
	switch e.Kind {
	case tcptable.EventStateChanged:
		state = e.Before.State.String() + ">" + state
	case tcptable.EventOwnerChanged:
		pid = pidCell(&e.Before) + ">" + pid
		process = processCell(&e.Before) + ">" + process
	}
	return fmt.Sprintf("%s %-13s %-22s %-21s %-21s %-7s %s\n",
		d.stamp(e.Time), e.Kind, state, d.addr(r.Local), d.addr(r.Remote), pid, process)
}
