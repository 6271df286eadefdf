//go:build linux

package main

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
)

// traceLine is the summary of the runs of one rate and mode: medians over
// the reps.
type traceLine struct {
	rate, mode    string
	connsPerSec   float64
	churnCPU      float64 // seconds per run
	kthreadCPU    float64
	tracerCPU     float64
	cpuPerConn    float64 // µs
	overhead      float64 // median over reps of cpuPerConn / alone's - 1, when hasOverhead (never for alone)
	hasOverhead   bool
	opened, lost  int64
	silent        int64 // worst rep: connections neither reported nor counted lost
	eventsPerConn float64
}

// summarize reduces the runs to one line per rate and mode, in the order
// they ran.
func summarize(runs []traceRun) []traceLine {
	type key struct {
		rate int
		mode string
	}
	byKey := map[key][]traceRun{}
	var order []key
	for _, r := range runs {
		k := key{r.rate, r.mode}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], r)
	}
	var lines []traceLine
	for _, k := range order {
		rs := byKey[k]
		alone := byKey[key{k.rate, modeAlone}]
		l := traceLine{rate: rateName(k.rate), mode: k.mode}
		var cps, churn, kth, tr, per, over, opened, lost, evs []float64
		for i, r := range rs {
			cps = append(cps, float64(r.churn.Conns)/r.churn.Secs)
			churn = append(churn, r.churn.CPUSec)
			kth = append(kth, r.kthreads)
			per = append(per, r.cpuPerConn())
			if k.mode != modeAlone && i < len(alone) && alone[i].cpuPerConn() > 0 {
				over = append(over, r.cpuPerConn()/alone[i].cpuPerConn()-1)
			}
			if r.tracer != nil {
				tr = append(tr, r.tracer.CPUSec)
				if k.mode == modeTrace {
					opened = append(opened, float64(r.tracer.Opened))
					lost = append(lost, float64(r.tracer.Lost))
					evs = append(evs, float64(r.tracer.Events)/float64(max(r.churn.Conns, 1)))
					l.silent = max(l.silent, r.churn.Conns-r.tracer.Opened-int64(r.tracer.Lost))
				}
			}
		}
		l.connsPerSec, l.churnCPU, l.kthreadCPU = medianOf(cps), medianOf(churn), medianOf(kth)
		l.tracerCPU, l.cpuPerConn = medianOf(tr), medianOf(per)
		l.overhead, l.hasOverhead = medianOf(over), len(over) > 0
		l.opened, l.lost, l.eventsPerConn = int64(medianOf(opened)), int64(medianOf(lost)), medianOf(evs)
		lines = append(lines, l)
	}
	return lines
}

func rateName(rate int) string {
	if rate == 0 {
		return "max"
	}
	return strconv.Itoa(rate) + "/s"
}

// printTrace prints the trace scenario's results.
func printTrace(w io.Writer, lines []traceLine, drains, stats []traceRun, sc map[string]float64, c createdResult, o options) {
	fmt.Fprintf(w, "Trace: churn of loopback connections, %gs per run, %d generator threads, %d CPUs, median of %d interleaved runs\n", o.traceSecs, o.traceWorkers, runtime.NumCPU(), o.reps)
	fmt.Fprintf(w, "(CPU: the churn process's, the kernel threads' and the tracer's; per lifecycle, and against the churn alone in the same rep)\n\n")
	fmt.Fprintf(w, "%-9s %-7s %9s %9s %9s %9s %10s %11s %10s %9s %8s %12s\n",
		"rate", "with", "conns/s", "churn", "kthreads", "tracer", "µs/conn", "vs alone", "opened", "lost", "ev/conn", "silent loss")
	for _, l := range lines {
		with, over := "-", ""
		if l.mode != modeAlone {
			with = l.mode
		}
		if l.hasOverhead {
			over = fmt.Sprintf("%+.1f%%", 100*l.overhead)
		}
		tracer, opened, lost, evs, silent := "-", "-", "-", "-", "-"
		if l.mode != modeAlone {
			tracer = fmt.Sprintf("%.2fs", l.tracerCPU)
		}
		if l.mode == modeTrace {
			opened, lost, evs = strconv.FormatInt(l.opened, 10), strconv.FormatInt(l.lost, 10), fmt.Sprintf("%.1f", l.eventsPerConn)
			silent = silentStr(l.silent)
		}
		fmt.Fprintf(w, "%-9s %-7s %9.0f %8.2fs %8.2fs %9s %10.1f %11s %10s %9s %8s %12s\n",
			l.rate, with, l.connsPerSec, l.churnCPU, l.kthreadCPU, tracer, l.cpuPerConn, over, opened, lost, evs, silent)
	}
	if len(drains) > 0 {
		fmt.Fprintf(w, "\nTracer capacity (the kernel fills a %d MiB ring while the callback is held, then the tracer drains it alone):\n", drainRing>>20)
		var eps, cps, cpuPerEv []float64
		for _, d := range drains {
			t := d.tracer
			if t == nil || t.DrainSecs <= 0 {
				continue
			}
			eps = append(eps, float64(t.DrainEvents)/t.DrainSecs)
			cps = append(cps, float64(d.churn.Conns)/t.DrainSecs)
			cpuPerEv = append(cpuPerEv, 1e9*t.CPUSec/float64(max(t.DrainEvents, 1)))
			silent := d.churn.Conns - t.Opened - int64(t.Lost)
			fmt.Fprintf(w, "  %d lifecycles (%d events) made in %.2fs; drained in %.2fs with %.2fs CPU; lost %d (reported), silent loss %s\n",
				d.churn.Conns, t.DrainEvents, d.churn.Secs, t.DrainSecs, t.CPUSec, t.Lost, silentStr(silent))
		}
		fmt.Fprintf(w, "  median: %.0f events/s, %.0f lifecycles/s, %.0f ns of tracer CPU per event\n", medianOf(eps), medianOf(cps), medianOf(cpuPerEv))
	}
	for _, s := range stats {
		fmt.Fprintf(w, "\nKernel programs with %s at %s (BPF_ENABLE_STATS, a run of its own: %d lifecycles):\n", s.mode, rateName(s.rate), s.churn.Conns)
		var total float64
		for _, p := range s.bpf {
			per := float64(p.Runtime.Nanoseconds()) / float64(max(p.Runs, 1))
			byConn := float64(p.Runtime.Nanoseconds()) / float64(max(s.churn.Conns, 1))
			total += byConn
			fmt.Fprintf(w, "  %-16s %10d runs (%.1f per lifecycle), %6.0f ns a run, %6.0f ns per lifecycle, %d missed\n",
				p.Name, p.Runs, float64(p.Runs)/float64(max(s.churn.Conns, 1)), per, byConn, p.Misses)
		}
		fmt.Fprintf(w, "  total %.0f ns per lifecycle\n", total)
	}
	fmt.Fprintf(w, "\nA system call (getppid) anywhere on the host, least of 5 runs of a million: %.1f ns alone; %.1f ns (%+.1f) while a Trace runs with tracefs mounted (accepts attributed at the syscalls tracepoints); %.1f ns (%+.1f) without tracefs (tp_btf/sys_exit)\n",
		sc["none"], sc["tracepoint"], sc["tracepoint"]-sc["none"], sc["tp_btf"], sc["tp_btf"]-sc["none"])
	wt, wo := c.With, c.Without
	fmt.Fprintf(w, "\nTable of %d rows (%d with Created), median of %d alternating calls after a GC each:\n", wt.Rows, wt.Created, o.reps)
	fmt.Fprintf(w, "  with Created    %.1f ms wall, %.1f ms CPU, %.0f KB allocated\n", wt.Ms, wt.CPUMs, wt.AllocKB)
	fmt.Fprintf(w, "  without         %.1f ms wall, %.1f ms CPU, %.0f KB allocated\n", wo.Ms, wo.CPUMs, wo.AllocKB)
	fmt.Fprintf(w, "  ratio: %.2f× wall, %.2f× CPU (medians of the per-pair ratios)\n", medianOf(c.Ratios), medianOf(c.CPURatios))
}

func silentStr(n int64) string {
	if n > 0 {
		return strconv.FormatInt(n, 10) + " (!)"
	}
	return "none"
}
