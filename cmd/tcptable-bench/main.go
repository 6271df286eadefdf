//go:build linux

// Command tcptable-bench times the Linux provider against ss and gopsutil
// on large TCP tables that it builds in throw-away network namespaces.
//
// Run it as root on an idle machine:
//
//	go run ./cmd/tcptable-bench -sizes 2000,20000,200000
//
// For every size it holds that many ESTABLISHED sockets (both ends of
// loopback pairs, IPv4 and IPv6) spread over several child processes in
// one namespace, and times, from inside that namespace: `ss -tan`,
// `ss -tanp`, the provider's full table with PIDs and names (first poll of
// a fresh process, then a second poll of the unchanged table), gopsutil's
// net.Connections("tcp"), `ss -tlnp`, and the provider's listeners-only
// query with owners, and the same queries with Query.Stats (tcp_info) and
// `ss -tin` (-stats; -stats-only times nothing else). When the table
// first reaches -elsewhere sockets it
// also builds a second namespace with -small sockets and times `ss -tanp`
// against the provider there, while the big table lives elsewhere. With
// -allnetns (50x400 by default) it builds that many namespaces of that
// many sockets and times ss -tanp run in each in turn (through ip netns
// exec and nsenter) against one WithAllNetNS table, then the provider in
// one namespace holding the same total. It prints medians, ratios and
// peak RSS. -sizes "" -elsewhere 0 runs the namespace scenario alone.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcptable/tcptable/internal/netnstest"
)

// slowSockets is the table size above which gopsutil, ss -tanp and
// ss -tlnp (each tens of seconds there) are timed only once.
const slowSockets = 50000

// maxPairsPerChild keeps a child's descriptors (two per pair) under the
// 20,000 hard limit seen on some hosts.
const maxPairsPerChild = 7500

type options struct {
	sizes     []int
	elsewhere int
	small     int
	reps      int
	gopsutil  bool
	stats     bool
	statsOnly bool
	markdown  string
	allNetNS  allNetNSSpec

	trace         bool
	traceRates    []int
	traceSecs     float64
	tracePairs    int
	traceWorkers  int
	traceBPFStats bool
}

func main() {
	runRoleIfRequested()
	netnstest.RunChildIfRequested()
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcptable-bench:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "tcptable-bench:", err)
		os.Exit(1)
	}
}

func parseFlags() (options, error) {
	var o options
	sizes := flag.String("sizes", "2000,20000,200000", "comma-separated numbers of ESTABLISHED sockets to measure at")
	flag.IntVar(&o.elsewhere, "elsewhere", 100000, "sockets in the big namespace for the namespace scenario (0: skip it)")
	flag.IntVar(&o.small, "small", 2000, "sockets in the small namespace of the namespace scenario")
	flag.IntVar(&o.reps, "reps", 3, "runs per measurement (the median is reported)")
	flag.BoolVar(&o.gopsutil, "gopsutil", true, "also time gopsutil net.Connections(\"tcp\")")
	flag.BoolVar(&o.stats, "stats", true, "also time the table with Query.Stats (tcp_info) against the same without, and ss -tin")
	flag.BoolVar(&o.statsOnly, "stats-only", false, "time only ss -tan/-tin and the provider with and without Query.Stats (implies -elsewhere 0)")
	flag.StringVar(&o.markdown, "markdown", "", "also write the results as a Markdown table to this file")
	flag.BoolVar(&o.trace, "trace", false, "run the kernel-event scenario instead: traced connection churn, CPU overhead, Table with Created")
	rates := flag.String("trace-rates", "0,20000", "connection lifecycles a second of the churn runs (0: as fast as possible), each run without and with the tracer")
	flag.Float64Var(&o.traceSecs, "trace-secs", 3, "seconds per churn run")
	flag.IntVar(&o.tracePairs, "trace-pairs", 9000, "loopback pairs of the Table-with-Created measurement")
	flag.IntVar(&o.traceWorkers, "trace-workers", 2, "threads of the churn generator")
	flag.BoolVar(&o.traceBPFStats, "trace-bpf-stats", false, "also measure the kernel programs' own run time (BPF_ENABLE_STATS) in runs of their own at the highest rate")
	allNetNS := flag.String("allnetns", "50x400", "the every-namespace scenario: NAMESPACESxSOCKETS (0: skip it)")
	childEhash := flag.Int("child-ehash", 0, "make the -allnetns namespaces with net.ipv4.tcp_child_ehash_entries=N (their own established hash; 0: the host's)")
	flag.Parse()
	var err error
	if o.traceRates, err = traceRates(*rates); err != nil {
		return o, err
	}
	if o.traceSecs <= 0 || o.traceSecs > 600 || o.tracePairs < 1 || o.tracePairs > 100000 || o.traceWorkers < 1 || o.traceWorkers > 254 {
		return o, fmt.Errorf("-trace-secs must be in (0, 600], -trace-pairs in 1..100000 and -trace-workers in 1..254")
	}
	if o.allNetNS, err = parseAllNetNS(*allNetNS); err != nil {
		return o, err
	}
	if *childEhash < 0 || *childEhash > 1<<24 {
		return o, fmt.Errorf("-child-ehash %d: want 0..%d", *childEhash, 1<<24)
	}
	o.allNetNS.childEhash = *childEhash
	for _, s := range strings.Split(*sizes, ",") {
		if *sizes == "" {
			break // only the other scenarios
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 || n > 1_000_000 {
			return o, fmt.Errorf("-sizes: %q is not a socket count in 2..1000000", s)
		}
		o.sizes = append(o.sizes, n)
	}
	slices.Sort(o.sizes)
	if o.reps < 1 || o.reps > 100 {
		return o, fmt.Errorf("-reps %d: want 1..100", o.reps)
	}
	if o.statsOnly {
		o.elsewhere = 0
	}
	if o.elsewhere < 0 || o.small < 2 {
		return o, fmt.Errorf("-elsewhere must be >= 0 and -small >= 2")
	}
	return o, nil
}

// bench is a namespace and the children holding its sockets.
type bench struct {
	exe      string
	ns       *netnstest.NS
	children []*netnstest.Child
	pairs    int
}

func newBench(exe, name string) (*bench, error) {
	ns, err := netnstest.NewNS(name)
	if err != nil {
		return nil, err
	}
	return &bench{exe: exe, ns: ns}, nil
}

// grow adds children until the namespace holds sockets ESTABLISHED sockets,
// at least two new children per step, started in parallel.
func (b *bench) grow(sockets int) error {
	need := sockets/2 - b.pairs
	if need <= 0 {
		return nil
	}
	n := max(2, (need+maxPairsPerChild-1)/maxPairsPerChild)
	type result struct {
		c   *netnstest.Child
		err error
	}
	res := make(chan result, n)
	for i := range n {
		pairs := need / n
		if i < need%n {
			pairs++
		}
		go func() {
			c, err := netnstest.Start(b.ns, b.exe, netnstest.Spec{Established: pairs}, false, 5*time.Minute)
			res <- result{c, err}
		}()
	}
	var errs []error
	for range n {
		r := <-res
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		b.children = append(b.children, r.c)
	}
	if len(errs) > 0 {
		return errs[0]
	}
	b.pairs += need
	return nil
}

// present returns the TCP sockets the kernel counts in the namespace
// (/proc/net/sockstat and sockstat6 read inside it), -1 if unknown.
func (b *bench) present() int {
	out, err := b.ns.Exec("cat", "/proc/net/sockstat", "/proc/net/sockstat6").Output()
	if err != nil {
		return -1
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && (f[0] == "TCP:" || f[0] == "TCP6:") && f[1] == "inuse" {
			v, _ := strconv.Atoi(f[2])
			n += v
		}
	}
	return n
}

func (b *bench) close() {
	for _, c := range b.children {
		c.Close()
	}
	b.ns.Close()
}

func run(o options) error {
	if err := netnstest.Available(); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	start := time.Now()
	if o.trace {
		return traceScenario(exe, o)
	}
	big, err := newBench(exe, fmt.Sprintf("tcptable-bench-%d", os.Getpid()))
	if err != nil {
		return err
	}
	defer big.close()
	var report report
	steps := slices.Clone(o.sizes)
	if o.elsewhere > 0 && !slices.Contains(steps, o.elsewhere) {
		steps = append(steps, o.elsewhere)
		slices.Sort(steps)
	}
	for _, n := range steps {
		t := time.Now()
		if err := big.grow(n); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%d sockets in %d processes ready in %v\n", 2*big.pairs, len(big.children), time.Since(t).Round(time.Millisecond))
		if slices.Contains(o.sizes, n) {
			var once []string
			if 2*big.pairs > slowSockets && !o.statsOnly {
				once = []string{toolGopsutil, toolSSP, toolSSL}
			}
			before := big.present()
			r, err := measure(big.ns, exe, sizeTools(o.gopsutil, o.stats, o.statsOnly), o.reps, once...)
			if err != nil {
				return err
			}
			after := big.present()
			fmt.Fprintf(os.Stderr, "kernel counted %d TCP sockets before measuring, %d after\n", before, after)
			report.sizes = append(report.sizes, sizeResult{sockets: 2 * big.pairs, procs: len(big.children), present: min(before, after), res: r})
		}
		if n == o.elsewhere {
			r, err := nsScenario(exe, o)
			if err != nil {
				return err
			}
			report.ns = &nsResult{small: o.small, elsewhere: 2 * big.pairs, res: r}
		}
	}
	if o.allNetNS.count > 0 {
		if report.all, err = allNetNSScenario(exe, o.allNetNS, o.reps); err != nil {
			return err
		}
	}
	report.print(os.Stdout)
	if o.markdown != "" {
		if err := os.WriteFile(o.markdown, []byte(report.markdown()), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "total run time %v\n", time.Since(start).Round(time.Second))
	return nil
}

// nsScenario builds a small namespace while the big one exists and times
// ss -tanp against the provider inside it.
func nsScenario(exe string, o options) (map[string]result, error) {
	small, err := newBench(exe, fmt.Sprintf("tcptable-bench-small-%d", os.Getpid()))
	if err != nil {
		return nil, err
	}
	defer small.close()
	if err := small.grow(o.small); err != nil {
		return nil, err
	}
	return measure(small.ns, exe, []string{toolSSP, toolProvider, toolProviderP}, o.reps)
}
