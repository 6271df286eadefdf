package linux

// NetNSSockets returns the inodes of the namespaces a WithAllNetNS provider
// holds a sock_diag socket in.
func NetNSSockets(p *Provider) []uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []uint64
	if p.all != nil {
		for ino, s := range p.all.spaces {
			if s.conn != nil {
				out = append(out, ino)
			}
		}
	}
	return out
}
