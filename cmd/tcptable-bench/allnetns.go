//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/tcptable/tcptable/internal/netnstest"
)

// allNetNSSpec is the -allnetns scenario: count namespaces of sockets
// ESTABLISHED sockets each; with childEhash > 0 they are made with
// net.ipv4.tcp_child_ehash_entries set to it (an established hash of
// their own) instead of sharing the host's.
type allNetNSSpec struct{ count, sockets, childEhash int }

// parseAllNetNS parses "50x400"; "" or "0" skips the scenario.
func parseAllNetNS(s string) (allNetNSSpec, error) {
	if s == "" || s == "0" {
		return allNetNSSpec{}, nil
	}
	n, m, ok := strings.Cut(s, "x")
	count, err1 := strconv.Atoi(n)
	sockets, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || count < 1 || count > 1000 || sockets < 2 || sockets > 100000 {
		return allNetNSSpec{}, fmt.Errorf("-allnetns %q: want NAMESPACESxSOCKETS, such as 50x400 (1..1000 namespaces, 2..100000 sockets each)", s)
	}
	return allNetNSSpec{count: count, sockets: sockets}, nil
}

// The measurements of the scenario.
const (
	toolSSEachIP      = "ss -tanp in each namespace (ip netns exec)"
	toolSSEachNsenter = "ss -tanp in each namespace (nsenter)"
	toolProviderAll   = "provider allnetns"
	toolProviderAllP  = "provider allnetns procfs"
)

// allNetNSResult is what the scenario measured.
type allNetNSResult struct {
	spec allNetNSSpec
	many map[string]result // with spec.count namespaces
	// one: the same total in one namespace: the provider in it (toolProvider,
	// toolProviderP) and WithAllNetNS from the host (toolProviderAll).
	one map[string]result
}

// allNetNSScenario builds spec.count namespaces of spec.sockets sockets
// (one child each) and times, from the caller's namespace, ss -tanp run in
// each in turn against one WithAllNetNS table; then it builds one namespace
// holding the same total and times the provider there.
func allNetNSScenario(exe string, spec allNetNSSpec, reps int) (*allNetNSResult, error) {
	res := &allNetNSResult{spec: spec}
	t := time.Now()
	spaces := make([]*bench, 0, spec.count)
	defer func() {
		for _, b := range spaces {
			b.close()
		}
	}()
	err := withChildEhash(spec.childEhash, func() error {
		for i := range spec.count {
			b, err := newBench(exe, fmt.Sprintf("tcptable-bench-all-%d-%d", os.Getpid(), i))
			if err != nil {
				return err
			}
			spaces = append(spaces, b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := growAll(spaces, spec.sockets); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "%d namespaces of %d sockets ready in %v\n", spec.count, spec.sockets, time.Since(t).Round(time.Millisecond))
	runs := map[string][]result{}
	for range reps {
		for _, tool := range []string{toolSSEachIP, toolSSEachNsenter, toolProviderAll, toolProviderAllP} {
			r, err := runEach(tool, spaces)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", tool, err)
			}
			runs[tool] = append(runs[tool], r)
		}
	}
	res.many = medians(runs)
	for _, b := range spaces {
		b.close()
	}
	spaces = nil

	var one *bench
	err = withChildEhash(spec.childEhash, func() (err error) {
		one, err = newBench(exe, fmt.Sprintf("tcptable-bench-one-%d", os.Getpid()))
		return err
	})
	if err != nil {
		return nil, err
	}
	defer one.close()
	if err := one.grow(spec.count * spec.sockets); err != nil {
		return nil, err
	}
	if res.one, err = measure(one.ns, exe, []string{toolProvider, toolProviderP}, reps); err != nil {
		return nil, err
	}
	var fromHost []result
	for range reps {
		r, err := runSelf("poll", "allnetns")
		if err != nil {
			return nil, err
		}
		fromHost = append(fromHost, r)
	}
	res.one[toolProviderAll] = median(fromHost)
	return res, nil
}

// childEhashSysctl sizes the established hash of network namespaces made
// from now on (0: they share the host's).
const childEhashSysctl = "/proc/sys/net/ipv4/tcp_child_ehash_entries"

// withChildEhash runs fn with childEhashSysctl set to n, unless n is 0,
// and restores the previous value.
func withChildEhash(n int, fn func() error) error {
	if n == 0 {
		return fn()
	}
	old, err := os.ReadFile(childEhashSysctl)
	if err != nil {
		return fmt.Errorf("-child-ehash needs Linux 6.1 or later: %w", err)
	}
	if err := os.WriteFile(childEhashSysctl, []byte(strconv.Itoa(n)), 0o644); err != nil {
		return err
	}
	defer os.WriteFile(childEhashSysctl, old, 0o644)
	return fn()
}

// growAll fills every namespace with sockets ESTABLISHED sockets, a
// few namespaces at a time.
func growAll(spaces []*bench, sockets int) error {
	const parallel = 8
	errs := make(chan error, len(spaces))
	sem := make(chan struct{}, parallel)
	for _, b := range spaces {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			c, err := netnstest.Start(b.ns, b.exe, netnstest.Spec{Established: sockets / 2}, false, 5*time.Minute)
			if err == nil {
				b.children = append(b.children, c)
				b.pairs = sockets / 2
			}
			errs <- err
		}()
	}
	for range spaces {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

// runEach times one run of tool over every namespace.
func runEach(tool string, spaces []*bench) (result, error) {
	if words, ok := providerWords(tool); ok {
		return runSelf("poll", words)
	}
	var r result
	start := time.Now()
	for _, b := range spaces {
		var cmd *exec.Cmd
		if tool == toolSSEachIP {
			cmd = b.ns.Exec("ss", "-tanpH")
		} else {
			cmd = exec.Command("nsenter", "--net="+b.ns.Path, "ss", "-tanpH")
		}
		out, err := cmd.Output()
		if err != nil {
			return r, err
		}
		r.Rows += strings.Count(string(out), "\n")
		r.RSSKB = max(r.RSSKB, maxRSS(cmd.ProcessState))
	}
	r.Ms = ms(time.Since(start))
	return r, nil
}

// rows returns the scenario's report lines.
func (r *allNetNSResult) rows() [][]string {
	name := fmt.Sprintf("%d netns × %d established", r.spec.count, r.spec.sockets)
	if r.spec.childEhash > 0 {
		name += fmt.Sprintf(" (own ehash of %d)", r.spec.childEhash)
	}
	ip, ns := r.many[toolSSEachIP], r.many[toolSSEachNsenter]
	all, allP := r.many[toolProviderAll], r.many[toolProviderAllP]
	one, oneP, oneAll := r.one[toolProvider], r.one[toolProviderP], r.one[toolProviderAll]
	oneName := fmt.Sprintf("%dk established in 1 netns", r.spec.count*r.spec.sockets/1000)
	if r.spec.childEhash > 0 {
		oneName += fmt.Sprintf(" (own ehash of %d)", r.spec.childEhash)
	}
	return [][]string{
		{name, "ss -tanp in each netns in turn, ip netns exec: ms (rows)", fmt.Sprintf("%s (%d)", msStr(ip.Ms), ip.Rows), "", ""},
		{name, "ss -tanp in each netns in turn, nsenter: ms (rows)", fmt.Sprintf("%s (%d)", msStr(ns.Ms), ns.Rows), "", ""},
		{name, "provider WithAllNetNS all+owners first/second poll ms (rows) [" + all.Scan + " scan]",
			fmt.Sprintf("%s / %s (%d)", msStr(all.Ms), msStr(all.Second), all.Rows),
			ratio(all.Ms, ns.Ms) + " nsenter ss, " + ratio(all.Ms, ip.Ms) + " ip netns ss", "≤ 0.3× ss in each"},
		{name, "same with the " + allP.Scan + " scan", fmt.Sprintf("%s / %s (%d)", msStr(allP.Ms), msStr(allP.Second), allP.Rows),
			ratio(allP.Ms, ns.Ms) + " nsenter ss", "(comparison)"},
		{oneName, "provider in that netns, all+owners first/second poll ms (rows) [" + one.Scan + " scan]",
			fmt.Sprintf("%s / %s (%d)", msStr(one.Ms), msStr(one.Second), one.Rows), "", ""},
		{oneName, "same with the " + oneP.Scan + " scan", fmt.Sprintf("%s / %s", msStr(oneP.Ms), msStr(oneP.Second)), "", ""},
		{oneName, "provider WithAllNetNS from the host: first/second poll ms (rows)",
			fmt.Sprintf("%s / %s (%d)", msStr(oneAll.Ms), msStr(oneAll.Second), oneAll.Rows), "", ""},
		{name, "WithAllNetNS over " + name + " vs the provider in one netns of the same total: first / second poll",
			ratio(all.Ms, one.Ms) + " / " + ratio(all.Second, one.Second),
			"vs WithAllNetNS of that host: " + ratio(all.Ms, oneAll.Ms) + " / " + ratio(all.Second, oneAll.Second), "≤ 1.5×"},
		{name, "same with the procfs scan", ratio(allP.Ms, oneP.Ms) + " / " + ratio(allP.Second, oneP.Second), "", "(comparison)"},
	}
}
