//go:build linux

package main

import (
	"fmt"
	"io"
	"strings"
)

type sizeResult struct {
	sockets, procs int
	present        int // TCP sockets the kernel counted in the namespace
	res            map[string]result
}

type nsResult struct {
	small, elsewhere int
	res              map[string]result
}

type report struct {
	sizes []sizeResult
	ns    *nsResult
	all   *allNetNSResult
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func msStr(v float64) string { return fmt.Sprintf("%.1f", v) }

func mb(kb int64) string { return fmt.Sprintf("%.0f", float64(kb)/1024) }

// rows returns the report as table rows: a header and one row per line.
func (r *report) rows() [][]string {
	out := [][]string{{"scenario", "measure", "value", "ratio", "target"}}
	for _, s := range r.sizes {
		p, ss, ssp := s.res[toolProvider], s.res[toolSS], s.res[toolSSP]
		g, hasG := s.res[toolGopsutil]
		l, ssl := s.res[toolProviderL], s.res[toolSSL]
		lf, reuse := s.res[toolProviderF], s.res[toolProviderR]
		pp, lp := s.res[toolProviderP], s.res[toolProviderLP]
		name := fmt.Sprintf("%dk established, %d procs", s.sockets/1000, s.procs)
		if s.present < s.sockets {
			name += fmt.Sprintf(" (only %d present)", s.present)
		}
		out = append(out, s.statsRows(name)...)
		if _, ok := s.res[toolSSP]; !ok {
			continue // -stats-only
		}
		out = append(out,
			[]string{name, "ss -tanp ms", msStr(ssp.Ms), "", ""},
			[]string{name, "provider all+owners first poll ms (rows) [" + p.Scan + " scan]", fmt.Sprintf("%s (%d)", msStr(p.Ms), p.Rows), ratio(p.Ms, ss.Ms) + " ss -tan, " + ratio(p.Ms, ssp.Ms) + " ss -tanp", "≤ 1.2× ss -tan"},
			[]string{name, "provider second poll ms", msStr(p.Second), ratio(p.Second, p.Ms) + " first", "≤ 0.5× first"},
			[]string{name, "provider peak RSS MB, first poll (both polls)", mb(p.RSSKB) + " (" + mb(p.AllRSSKB) + ")", "ss -tanp " + mb(ssp.RSSKB) + " MB", "≤ 80 MB"},
			[]string{name, "provider, second poll TableInto(first answer): ms, peak RSS MB both polls", msStr(reuse.Second) + ", " + mb(reuse.AllRSSKB), ratio(reuse.Second, reuse.Ms) + " first", "≤ 80 MB"},
			[]string{name, "same with the " + pp.Scan + " scan: first / second poll ms", msStr(pp.Ms) + " / " + msStr(pp.Second),
				ratio(pp.Ms, ss.Ms) + " ss -tan; second " + ratio(pp.Second, pp.Ms) + " first", "(comparison)"},
		)
		if hasG {
			out = append(out, []string{name, "gopsutil ms (rows)", fmt.Sprintf("%s (%d)", msStr(g.Ms), g.Rows), ratio(g.Ms, p.Ms) + " provider", "≥ 10×"})
		}
		out = append(out,
			[]string{name, "ss -tlnp ms", msStr(ssl.Ms), "", ""},
			[]string{name, "provider listeners+owners first/second ms [" + l.Scan + " scan]", msStr(l.Ms) + " / " + msStr(l.Second),
				ratio(l.Ms, ssl.Ms) + " / " + ratio(l.Second, ssl.Ms) + " ss -tlnp", "≤ 0.2× ss -tlnp"},
			[]string{name, "same with the " + lp.Scan + " scan", msStr(lp.Ms) + " / " + msStr(lp.Second),
				ratio(lp.Ms, ssl.Ms) + " / " + ratio(lp.Second, ssl.Ms) + " ss -tlnp", "(comparison)"},
			[]string{name, "same with the " + lf.Scan + " scan and WithFirstOwnerOnly", msStr(lf.Ms) + " / " + msStr(lf.Second),
				ratio(lf.Ms, ssl.Ms) + " / " + ratio(lf.Second, ssl.Ms) + " ss -tlnp", "(opt-in, inexact)"},
		)
	}
	if n := r.ns; n != nil {
		name := fmt.Sprintf("%dk in netns, %dk elsewhere", n.small/1000, n.elsewhere/1000)
		p, ssp, pp := n.res[toolProvider], n.res[toolSSP], n.res[toolProviderP]
		out = append(out,
			[]string{name, "ss -tanp ms (rows)", fmt.Sprintf("%s (%d)", msStr(ssp.Ms), ssp.Rows), "", ""},
			[]string{name, "provider all+owners first/second ms (rows) [" + p.Scan + " scan]", fmt.Sprintf("%s / %s (%d)", msStr(p.Ms), msStr(p.Second), p.Rows),
				ratio(p.Ms, ssp.Ms) + " / " + ratio(p.Second, ssp.Ms) + " ss -tanp", "≤ 0.1× ss -tanp"},
			[]string{name, "same with the " + pp.Scan + " scan", fmt.Sprintf("%s / %s (%d)", msStr(pp.Ms), msStr(pp.Second), pp.Rows),
				ratio(pp.Ms, ssp.Ms) + " / " + ratio(pp.Second, ssp.Ms) + " ss -tanp", "(comparison)"},
		)
	}
	if r.all != nil {
		out = append(out, r.all.rows()...)
	}
	return out
}

// statsRows compare the tables with and without Query.Stats, when they
// were measured, after ss -tan.
func (s *sizeResult) statsRows(name string) [][]string {
	ss := s.res[toolSS]
	out := [][]string{{name, "ss -tan ms (rows)", fmt.Sprintf("%s (%d)", msStr(ss.Ms), ss.Rows), "", ""}}
	ps, ok := s.res[toolProviderS]
	if !ok {
		return out
	}
	p, ssi := s.res[toolProvider], s.res[toolSSI]
	n, ns := s.res[toolProviderN], s.res[toolProviderNS]
	return append(out,
		[]string{name, "ss -tin ms (rows)", fmt.Sprintf("%s (%d)", msStr(ssi.Ms), ssi.Rows), ratio(ssi.Ms, ss.Ms) + " ss -tan", ""},
		[]string{name, "provider all+owners, first / second poll ms: without Stats", msStr(p.Ms) + " / " + msStr(p.Second), "", ""},
		[]string{name, "provider all+owners, first / second poll ms: with Stats", msStr(ps.Ms) + " / " + msStr(ps.Second),
			ratio(ps.Ms, p.Ms) + " / " + ratio(ps.Second, p.Second) + " without", "≤ 1.3× without"},
		[]string{name, "same, CPU ms (user+system) first / second poll: without / with Stats", msStr(p.CPU) + " / " + msStr(p.SecondCPU) + "; " + msStr(ps.CPU) + " / " + msStr(ps.SecondCPU),
			ratio(ps.CPU, p.CPU) + " / " + ratio(ps.SecondCPU, p.SecondCPU) + " without", "≤ 1.3× without"},
		[]string{name, "provider no owners, first / second poll ms: without Stats", msStr(n.Ms) + " / " + msStr(n.Second), "", ""},
		[]string{name, "provider no owners, first / second poll ms: with Stats", msStr(ns.Ms) + " / " + msStr(ns.Second),
			ratio(ns.Ms, n.Ms) + " / " + ratio(ns.Second, n.Second) + " without; " + ratio(ns.Ms, ssi.Ms) + " ss -tin", "(the dump alone)"},
		[]string{name, "same, CPU ms first / second poll: without / with Stats", msStr(n.CPU) + " / " + msStr(n.SecondCPU) + "; " + msStr(ns.CPU) + " / " + msStr(ns.SecondCPU),
			ratio(ns.CPU, n.CPU) + " / " + ratio(ns.SecondCPU, n.SecondCPU) + " without", ""},
		[]string{name, "provider peak RSS MB: without / with Stats (both polls)", mb(p.AllRSSKB) + " / " + mb(ps.AllRSSKB), "", ""},
	)
}

func (r *report) print(w io.Writer) {
	rows := r.rows()
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, row := range rows {
		for i, c := range row {
			fmt.Fprintf(w, "%-*s  ", width[i], c)
		}
		fmt.Fprintln(w)
	}
}

func (r *report) markdown() string {
	var b strings.Builder
	for i, row := range r.rows() {
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		if i == 0 {
			b.WriteString(strings.Repeat("|---", len(row)) + "|\n")
		}
	}
	return b.String()
}
