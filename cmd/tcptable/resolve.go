package main

import (
	"context"
	"net/netip"
	"strings"
	"time"
)

// lookupFunc resolves an address to host names; net.Resolver.LookupAddr
// has this shape.
type lookupFunc func(ctx context.Context, addr string) ([]string, error)

// maxLookups bounds concurrent reverse lookups.
const maxLookups = 8

// resolveNames adds to names the host name of every address in addrs not
// looked up before ("" when it has none). It gives up after timeout: what
// has not resolved by then stays numeric, and is not tried again.
// Unspecified addresses (0.0.0.0, ::) are never looked up.
func resolveNames(ctx context.Context, lookup lookupFunc, timeout time.Duration, names map[netip.Addr]string, addrs []netip.Addr) {
	var todo []netip.Addr
	for _, a := range addrs {
		if _, done := names[a]; done || !a.IsValid() || a.IsUnspecified() {
			continue
		}
		names[a] = "" // numeric unless the lookup answers in time
		todo = append(todo, a)
	}
	if len(todo) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		addr netip.Addr
		name string
	}
	results := make(chan result, len(todo)) // buffered: late lookups never block
	sem := make(chan struct{}, maxLookups)
	go func() {
		for _, a := range todo {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				defer func() { <-sem }()
				r := result{addr: a}
				if hosts, err := lookup(ctx, a.String()); err == nil && len(hosts) > 0 {
					r.name = strings.TrimSuffix(hosts[0], ".")
				}
				results <- r
			}()
		}
	}()
	for range todo {
		select {
		case r := <-results:
			names[r.addr] = r.name
		case <-ctx.Done():
			return
		}
	}
}
