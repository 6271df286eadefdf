package linux

// TraceRunning reports whether a Trace of p has taken its first snapshot
// and reads the kernel's events.
func TraceRunning(p *Provider) bool {
	p.rec.mu.Lock()
	h := p.rec.hub
	p.rec.mu.Unlock()
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.running
}
