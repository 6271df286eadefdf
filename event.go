package tcptable

import (
	"encoding/json"
	"fmt"
	"time"
)

// EventKind says what changed about a connection between two snapshots.
type EventKind uint8

// The event kinds. Diff and Watcher report them in this order for one
// connection.
const (
	// EventOpened: a connection is in the new snapshot but not the old one.
	EventOpened EventKind = iota + 1
	// EventClosed: a connection is in the old snapshot but not the new one.
	EventClosed
	// EventStateChanged: the connection's State changed (ESTABLISHED to
	// TIME-WAIT, SYN-SENT to ESTABLISHED, ...).
	EventStateChanged
	// EventOwnerChanged: the connection's owners changed: PID, OtherPIDs or
	// Module. A socket passing into TIME-WAIT, which the kernel then owns,
	// reports both a state and an owner change.
	EventOwnerChanged
	// EventLost: a Tracer's source dropped events (a full kernel buffer);
	// Event.Lost says how many, and Key and the rows are zero. Diff never
	// reports it. A Watch that follows a trace resynchronises with a
	// snapshot after it, so what was lost is reported as the difference.
	EventLost
)

var eventKindNames = [...]string{
	EventOpened:       "opened",
	EventClosed:       "closed",
	EventStateChanged: "state-changed",
	EventOwnerChanged: "owner-changed",
	EventLost:         "lost",
}

// String returns "opened", "closed", "state-changed", "owner-changed",
// "lost" or "EventKind(N)".
func (k EventKind) String() string { return nameOf(eventKindNames[:], "EventKind", uint8(k)) }

// MarshalText implements encoding.TextMarshaler with String's names.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler for the names String returns.
func (k *EventKind) UnmarshalText(b []byte) error {
	v, err := parseName(eventKindNames[:], "EventKind", string(b))
	if err == nil && v == 0 {
		err = &ParseError{Type: "EventKind", Input: string(b)}
	}
	*k = EventKind(v)
	return err
}

// Event is one change between two snapshots of the TCP table.
type Event struct {
	// Kind says what changed.
	Kind EventKind
	// Key is the connection's identity, equal to Before.Key() and After.Key().
	Key Key
	// Before is the row in the old snapshot; the zero Connection for
	// EventOpened.
	Before Connection
	// After is the row in the new snapshot; the zero Connection for
	// EventClosed.
	After Connection
	// Time is when the change happened: the time of the OS's event for a
	// traced change, when the Watcher took the snapshot that showed it for
	// a polled one; zero in Diff's answer.
	Time time.Time
	// Lost is, for EventLost, how many events the source dropped (0 when
	// it knows that some were lost but not how many); 0 for other kinds.
	Lost uint64
}

// Row returns the row the event is about: After, or Before for EventClosed.
func (e *Event) Row() *Connection {
	if e.Kind == EventClosed {
		return &e.Before
	}
	return &e.After
}

// String describes the event in one line for logs, e.g.
// "state-changed 127.0.0.1:5000 127.0.0.1:80 ESTABLISHED -> TIME-WAIT".
func (e Event) String() string {
	if e.Kind == EventLost {
		return fmt.Sprintf("lost %d events", e.Lost)
	}
	r := e.Row()
	s := e.Kind.String() + " " + r.Local.String() + " " + r.Remote.String()
	switch e.Kind {
	case EventStateChanged:
		return s + " " + e.Before.State.String() + " -> " + e.After.State.String()
	case EventOwnerChanged:
		return fmt.Sprintf("%s pid %d %q -> pid %d %q", s, e.Before.PID, e.Before.Module.Name, e.After.PID, e.After.Module.Name)
	}
	return fmt.Sprintf("%s %s pid %d %q", s, r.State, r.PID, r.Module.Name)
}

// eventJSON is the wire form of an Event.
type eventJSON struct {
	Time   *time.Time  `json:"time"`
	Event  EventKind   `json:"event"`
	Before *Connection `json:"before"`
	After  *Connection `json:"after"`
	Lost   uint64      `json:"lost,omitempty"`
}

// MarshalJSON encodes e as {"time", "event", "before", "after"}: time is
// RFC 3339 or null, event the kind's name, before and after rows in
// Connection's encoding, null where the kind has none (before of
// "opened", after of "closed", both of "lost"); a "lost" event adds
// "lost", the number of events dropped.
func (e Event) MarshalJSON() ([]byte, error) {
	w := eventJSON{Time: timeOrNil(e.Time), Event: e.Kind, Before: &e.Before, After: &e.After, Lost: e.Lost}
	switch e.Kind {
	case EventOpened:
		w.Before = nil
	case EventClosed:
		w.After = nil
	case EventLost:
		w.Before, w.After = nil, nil
	}
	return json.Marshal(&w)
}

// UnmarshalJSON decodes what MarshalJSON produces; Key is recomputed from
// the row.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w eventJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return invalidJSONError{"event", err}
	}
	*e = Event{Kind: w.Event, Lost: w.Lost}
	if w.Time != nil {
		e.Time = *w.Time
	}
	if w.Before != nil {
		e.Before = *w.Before
	}
	if w.After != nil {
		e.After = *w.After
	}
	if e.Kind != EventLost {
		e.Key = e.Row().Key()
	}
	return nil
}
