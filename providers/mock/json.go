package mock

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/tcptable/tcptable"
)

// maxSnapshotRows caps how many rows ReadJSON accepts: far more than any
// host's table, far less than what exhausts a test's memory.
const maxSnapshotRows = 1 << 20

// requiredKeys must be present in every row of a snapshot; the others
// default to their zero values (and Add completes the owner statuses).
var requiredKeys = [...]string{"state", "local", "remote"}

// ReadJSON reads a snapshot: the JSON array that `tcptable --json` prints,
// or the one object a line that `tcptable --ndjson` prints. Each object is
// a tcptable.Connection in its JSON encoding (Connection.MarshalJSON); the
// keys state, local and remote are required, the others optional.
//
// Unlike Connection.UnmarshalJSON, ReadJSON is strict, since a snapshot is
// a test's input: an unknown key, a missing required key, a malformed
// value, an invalid address, two rows with the same Key, or a row that
// breaks the model is an error that wraps tcptable.ErrInvalid, names the
// row (counting from 1) and quotes what was wrong. A row breaks the model
// when it has
//
//   - a state outside 1..12 ("State(99)"), or a status or source no
//     constant names;
//   - a local port 0, local and remote addresses of different families, a
//     remote port 0 with an address (or a port without one), a listener
//     with a remote end, or a connected state (SYN-SENT to TIME-WAIT)
//     without one; a "family" that contradicts "local"; dual_stack on a
//     row that is not IPv6 bound to ::;
//   - a pid with an owner_status other than "ok", "ok" without a pid, or
//     other_pids without a pid, out of order, repeated or repeating it;
//   - a process or path with a module_status other than "ok", or "ok" or
//     a module_source without one;
//   - a netns_name without a netns.
//
// A status left out (or "unknown") is accepted where New completes it:
// owner_status with a pid, module_status with a module.
func ReadJSON(r io.Reader) ([]tcptable.Connection, error) {
	known, err := knownKeys()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(r)
	dec := json.NewDecoder(br)
	first, err := firstByte(br)
	if err != nil {
		return nil, err
	}
	array := first == '['
	if array {
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("mock: snapshot: %w: %w", err, tcptable.ErrInvalid)
		}
	} else if first != '{' {
		return nil, fmt.Errorf("mock: snapshot: want a JSON array of rows or one object a line, found %q: %w", first, tcptable.ErrInvalid)
	}
	var rows []tcptable.Connection
	seen := map[tcptable.Key]int{}
	for n := 1; dec.More(); n++ {
		if n > maxSnapshotRows {
			return nil, fmt.Errorf("mock: snapshot: more than %d rows: %w", maxSnapshotRows, tcptable.ErrInvalid)
		}
		c, err := readRow(dec, known)
		if err != nil {
			return nil, fmt.Errorf("mock: snapshot row %d: %w", n, err)
		}
		if prev, dup := seen[c.Key()]; dup {
			return nil, fmt.Errorf("mock: snapshot row %d: same Key (%v) as row %d: %w", n, c.Key(), prev, tcptable.ErrInvalid)
		}
		seen[c.Key()] = n
		rows = append(rows, c)
	}
	if array {
		if _, err := dec.Token(); err == io.EOF {
			return nil, fmt.Errorf("mock: snapshot: the array is not closed after row %d: %w", len(rows), tcptable.ErrInvalid)
		} else if err != nil {
			return nil, fmt.Errorf("mock: snapshot: after row %d: %w: %w", len(rows), err, tcptable.ErrInvalid)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("mock: snapshot: unexpected data after row %d at byte %d: %w", len(rows), dec.InputOffset(), tcptable.ErrInvalid)
	}
	return rows, nil
}

// firstByte returns the first byte of r that is not white space, without
// consuming it.
func firstByte(r *bufio.Reader) (byte, error) {
	for i := 0; ; i++ {
		b, err := r.Peek(i + 1)
		if err == io.EOF {
			return 0, fmt.Errorf("mock: snapshot: empty input: %w", tcptable.ErrInvalid)
		}
		if err != nil {
			return 0, fmt.Errorf("mock: snapshot: %w", err)
		}
		if c := b[i]; !strings.ContainsRune(" \t\r\n", rune(c)) {
			return c, nil
		}
	}
}

// readRow decodes one object, checking its keys first.
func readRow(dec *json.Decoder, known map[string]bool) (tcptable.Connection, error) {
	var obj json.RawMessage
	var raw map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return tcptable.Connection{}, fmt.Errorf("at byte %d: %w: %w", dec.InputOffset(), err, tcptable.ErrInvalid)
	}
	if err := json.Unmarshal(obj, &raw); err != nil || raw == nil {
		return tcptable.Connection{}, fmt.Errorf("want an object, found %.40s: %w", obj, tcptable.ErrInvalid)
	}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if !known[k] {
			return tcptable.Connection{}, fmt.Errorf("unknown key %q: %w", k, tcptable.ErrInvalid)
		}
	}
	for _, k := range requiredKeys {
		if _, ok := raw[k]; !ok {
			return tcptable.Connection{}, fmt.Errorf("missing key %q: %w", k, tcptable.ErrInvalid)
		}
	}
	var c tcptable.Connection
	if err := json.Unmarshal(obj, &c); err != nil {
		return tcptable.Connection{}, err
	}
	if !c.Local.IsValid() || !c.Remote.IsValid() {
		return tcptable.Connection{}, fmt.Errorf("local %s and remote %s must both be address:port: %w", raw["local"], raw["remote"], tcptable.ErrInvalid)
	}
	if err := checkRow(&c, raw); err != nil {
		return tcptable.Connection{}, err
	}
	return c, nil
}

// knownKeys returns the keys of Connection's JSON encoding, read from the
// encoding itself so that they never drift from it.
func knownKeys() (map[string]bool, error) {
	full := tcptable.Connection{OwningModuleInfo: &[16]uint64{}, HasUID: true}
	b, err := json.Marshal(full)
	if err != nil {
		return nil, fmt.Errorf("mock: encoding a Connection: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("mock: encoding a Connection: %w", err)
	}
	known := make(map[string]bool, len(m))
	for k := range m {
		known[k] = true
	}
	return known, nil
}

// WriteJSON writes conns as the JSON array `tcptable --json` prints, one
// key per line, for ReadJSON or Load to read back.
func WriteJSON(w io.Writer, conns []tcptable.Connection) error {
	if conns == nil {
		conns = []tcptable.Connection{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(conns); err != nil {
		return fmt.Errorf("mock: writing snapshot: %w", err)
	}
	return nil
}

// Load returns a provider that serves the snapshot ReadJSON reads from r.
func Load(r io.Reader) (*Provider, error) {
	conns, err := ReadJSON(r)
	if err != nil {
		return nil, err
	}
	return New(conns...), nil
}

// Save writes the whole table (as Rows returns it) with WriteJSON.
func (p *Provider) Save(w io.Writer) error {
	return WriteJSON(w, p.Rows())
}
