package gopsutil

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"sync"

	"github.com/shirou/gopsutil/v4/process"

	"github.com/tcptable/tcptable"
)

// maxCachedProcesses caps the process-facts cache; past it the cache starts
// over rather than grow without bound on a host that churns processes.
const maxCachedProcesses = 1 << 16

// proc is the part of gopsutil's *process.Process the provider uses.
type proc interface {
	CreateTimeWithContext(ctx context.Context) (int64, error)
	NameWithContext(ctx context.Context) (string, error)
	ExeWithContext(ctx context.Context) (string, error)
	UidsWithContext(ctx context.Context) ([]uint32, error)
}

// openFunc opens a process by PID; gopsutilOpen in production, a fake in
// tests.
type openFunc func(ctx context.Context, pid int32) (proc, error)

// gopsutilOpen opens pid with gopsutil's process package.
func gopsutilOpen(ctx context.Context, pid int32) (proc, error) {
	p, err := process.NewProcessWithContext(ctx, pid)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// procFacts is what the provider learns about an owning process.
type procFacts struct {
	module tcptable.Module
	status tcptable.OwnerStatus // becomes Connection.ModuleStatus
	uid    uint32
	hasUID bool
}

// procKey identifies a process across PID reuse.
type procKey struct {
	pid     int32
	created int64 // gopsutil's CreateTime, milliseconds since the epoch
}

// cacheEntry is a cached procFacts and the sweep in which it was last used.
type cacheEntry struct {
	facts procFacts
	sweep uint64
}

// procCache keeps procFacts per (PID, creation time), so that a process
// whose PID was reused is looked up afresh, and forgets processes no table
// mentioned in the last two sweeps. It is safe for concurrent use.
type procCache struct {
	open openFunc

	mu      sync.Mutex
	sweep   uint64
	entries map[procKey]cacheEntry
}

// newProcCache returns an empty cache that opens processes with open.
func newProcCache(open openFunc) *procCache {
	return &procCache{open: open, entries: map[procKey]cacheEntry{}}
}

// lookup returns the facts of pid. Only the creation time is read when the
// process is cached; name, executable and UIDs are read once per process.
func (c *procCache) lookup(ctx context.Context, pid int32) procFacts {
	p, err := c.open(ctx, pid)
	if err != nil {
		return procFacts{status: failureStatus(err)}
	}
	created, err := p.CreateTimeWithContext(ctx)
	if err != nil {
		return procFacts{status: failureStatus(err)}
	}
	key := procKey{pid, created}
	c.mu.Lock()
	e, ok := c.entries[key]
	if ok {
		e.sweep = c.sweep
		c.entries[key] = e
	}
	c.mu.Unlock()
	if ok {
		return e.facts
	}
	f := readFacts(ctx, p)
	if f.status == tcptable.OwnerOK || f.status == tcptable.OwnerPermissionDenied {
		c.mu.Lock()
		if len(c.entries) >= maxCachedProcesses {
			clear(c.entries)
		}
		c.entries[key] = cacheEntry{facts: f, sweep: c.sweep}
		c.mu.Unlock()
	}
	return f
}

// startSweep begins a Table call's use of the cache and forgets the
// processes that neither this call's predecessor nor the one before used.
func (c *procCache) startSweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep++
	for k, e := range c.entries {
		if e.sweep+2 < c.sweep {
			delete(c.entries, k)
		}
	}
}

// len returns the number of cached processes.
func (c *procCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// readFacts reads a process' name, executable and UIDs. The name is
// required; an executable or UIDs the caller may not read are left out.
func readFacts(ctx context.Context, p proc) procFacts {
	name, nameErr := p.NameWithContext(ctx)
	exe, _ := p.ExeWithContext(ctx)
	if name == "" && exe != "" {
		name = filepath.Base(exe)
	}
	if name == "" {
		if nameErr == nil {
			return procFacts{status: tcptable.OwnerUnknown}
		}
		return procFacts{status: failureStatus(nameErr)}
	}
	f := procFacts{module: tcptable.Module{Name: name, Path: exe}, status: tcptable.OwnerOK}
	if uids, err := p.UidsWithContext(ctx); err == nil && len(uids) > 0 {
		f.uid, f.hasUID = uids[min(1, len(uids)-1)], true
	}
	return f
}

// failureStatus says why gopsutil could not read a process.
func failureStatus(err error) tcptable.OwnerStatus {
	switch {
	case errors.Is(err, process.ErrorProcessNotRunning), errors.Is(err, fs.ErrNotExist), isESRCH(err):
		return tcptable.OwnerExited
	case errors.Is(err, fs.ErrPermission):
		return tcptable.OwnerPermissionDenied
	}
	return tcptable.OwnerUnknown
}
