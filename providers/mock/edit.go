package mock

import (
	"slices"

	"github.com/tcptable/tcptable"
)

// Add adds conns to the table; a row whose Key is already there replaces
// that row in place. Rows are deep-copied and completed the way a real
// provider would report them:
//
//   - a PID without an OwnerStatus gets OwnerOK;
//   - a Module without a ModuleStatus gets OwnerOK, and ModuleSource
//     SourceSynthetic if it has none;
//   - a row without a Remote (a listener, typically) gets the unspecified
//     address of its Local's family and port 0, as a real listener shows;
//   - a row with Stats and no StatsStatus gets StatsOK.
//
// The methods that take a Key (Remove, SetState, Update) complete it the
// same way, so the Key of a hand-written listener without a Remote finds
// the row Add stored.
func (p *Provider) Add(conns ...tcptable.Connection) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addLocked(conns...)
}

// addLocked is Add with p.mu held.
func (p *Provider) addLocked(conns ...tcptable.Connection) {
	var before, after []tcptable.Connection
	p.storeLocked(conns, func(old *tcptable.Connection, c tcptable.Connection) {
		if len(p.traces) > 0 {
			if old != nil {
				before = append(before, *old)
			}
			after = append(after, c)
		}
	})
	p.publishLocked(before, after)
}

// storeLocked adds conns as Add says, calling stored with the row each
// replaces (nil if none) and the completed row, before storing it.
func (p *Provider) storeLocked(conns []tcptable.Connection, stored func(old *tcptable.Connection, c tcptable.Connection)) {
	if p.index == nil {
		p.index = make(map[tcptable.Key]int, len(conns))
	}
	for _, c := range conns {
		c = complete(c.Clone())
		k := c.Key()
		if i, ok := p.index[k]; ok {
			stored(&p.rows[i], c)
			p.rows[i] = c
		} else {
			stored(nil, c)
			p.index[k] = len(p.rows)
			p.rows = append(p.rows, c)
		}
	}
}

// reindexLocked rebuilds p.index after rows moved.
func (p *Provider) reindexLocked() {
	clear(p.index)
	for i := range p.rows {
		p.index[p.rows[i].Key()] = i
	}
}

// complete fills what a hand-written row leaves out; see Add.
func complete(c tcptable.Connection) tcptable.Connection {
	if c.PID != 0 && c.OwnerStatus == tcptable.OwnerUnknown {
		c.OwnerStatus = tcptable.OwnerOK
	}
	if !c.Module.IsZero() {
		if c.ModuleStatus == tcptable.OwnerUnknown {
			c.ModuleStatus = tcptable.OwnerOK
		}
		if c.ModuleSource == tcptable.SourceNone {
			c.ModuleSource = tcptable.SourceSynthetic
		}
	}
	if !c.Remote.IsValid() && c.Local.IsValid() {
		c.Remote = unspecified(c.Local)
	}
	if c.Stats != nil && c.StatsStatus == tcptable.StatsUnknown {
		c.StatsStatus = tcptable.StatsOK
	}
	return c
}

// completeKey completes k as complete completes a row.
func completeKey(k tcptable.Key) tcptable.Key {
	if !k.Remote.IsValid() && k.Local.IsValid() {
		k.Remote = unspecified(k.Local)
	}
	return k
}

// indexLocked returns the index of the row with Key k, or -1.
func (p *Provider) indexLocked(k tcptable.Key) int {
	if i, ok := p.index[completeKey(k)]; ok {
		return i
	}
	return -1
}

// Set replaces the whole table with conns (completed as Add says).
func (p *Provider) Set(conns ...tcptable.Connection) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.rows
	p.rows, p.index = nil, nil
	p.storeLocked(conns, func(*tcptable.Connection, tcptable.Connection) {})
	p.publishLocked(old, p.rows)
}

// Remove deletes the rows with these Keys and returns how many it found.
func (p *Provider) Remove(keys ...tcptable.Key) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.removeLocked(keys...)
}

// removeLocked is Remove with p.mu held.
func (p *Provider) removeLocked(keys ...tcptable.Key) int {
	gone := make(map[tcptable.Key]bool, len(keys))
	for _, k := range keys {
		if k = completeKey(k); p.indexLocked(k) >= 0 {
			gone[k] = true
		}
	}
	if len(gone) > 0 {
		var before []tcptable.Connection
		p.rows = slices.DeleteFunc(p.rows, func(c tcptable.Connection) bool {
			if gone[c.Key()] && len(p.traces) > 0 {
				before = append(before, c)
			}
			return gone[c.Key()]
		})
		p.reindexLocked()
		p.publishLocked(before, nil)
	}
	return len(gone)
}

// SetState changes the state of the row with Key k and reports whether
// there is one. The Key of a connected row survives the change.
func (p *Provider) SetState(k tcptable.Key, s tcptable.State) bool {
	return p.Update(k, func(c *tcptable.Connection) { c.State = s })
}

// Update calls edit on a copy of the row with Key k and stores the result
// (completed as Add says); it reports whether there is such a row. edit
// may change any field; a row whose Key it changes into another row's Key
// replaces that row. edit runs under the provider's lock and must not call
// the provider.
func (p *Provider) Update(k tcptable.Key, edit func(c *tcptable.Connection)) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := p.indexLocked(k)
	if i < 0 {
		return false
	}
	c := p.rows[i].Clone()
	edit(&c)
	c = complete(c)
	before := []tcptable.Connection{p.rows[i]}
	defer func() { p.publishLocked(before, []tcptable.Connection{c}) }()
	if c.Key() == p.rows[i].Key() {
		p.rows[i] = c
		return true
	}
	p.rows = slices.Delete(p.rows, i, i+1)
	if j, ok := p.index[c.Key()]; ok {
		if j > i {
			j--
		}
		before = append(before, p.rows[j])
		p.rows[j] = c
	} else {
		p.rows = slices.Insert(p.rows, i, c)
	}
	p.reindexLocked()
	return true
}

// Rows returns a deep copy of the whole table, with every detail, in
// order, even after Close.
func (p *Provider) Rows() []tcptable.Connection {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]tcptable.Connection, len(p.rows))
	for i, c := range p.rows {
		out[i] = c.Clone()
	}
	return out
}
