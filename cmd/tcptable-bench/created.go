//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux"
)

// tableTiming is the median of a provider's Table calls.
type tableTiming struct {
	Ms      float64 `json:"ms"`       // wall time
	CPUMs   float64 `json:"cpu_ms"`   // process CPU time
	AllocKB float64 `json:"alloc_kb"` // bytes allocated per call
	Rows    int     `json:"rows"`
	Created int     `json:"created"` // rows with Created
}

// createdResult is what the created role reports.
type createdResult struct {
	With    tableTiming `json:"with"`
	Without tableTiming `json:"without"`
	// Ratios holds, per rep, the with/without ratio of the wall times of
	// two adjacent calls.
	Ratios    []float64 `json:"ratios"`
	CPURatios []float64 `json:"cpu_ratios"`
}

// createdRole: "PAIRS REPS": two providers of this namespace, one with
// birth times and one WithoutBirthTimes; PAIRS loopback pairs made after
// both are open; Table timed on each, alternately (which one goes first
// alternates too), after a garbage collection each, REPS times.
func createdRole(arg string) (createdResult, error) {
	var res createdResult
	f := strings.Fields(arg)
	if len(f) != 2 {
		return res, fmt.Errorf("created: want PAIRS REPS, got %q", arg)
	}
	pairs, err1 := strconv.Atoi(f[0])
	reps, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || pairs < 1 || reps < 1 {
		return res, fmt.Errorf("created: want PAIRS REPS, got %q", arg)
	}
	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	if need := uint64(2*pairs + 64); lim.Cur < need {
		return res, fmt.Errorf("-trace-pairs %d needs %d descriptors; RLIMIT_NOFILE is %d", pairs, need, lim.Cur)
	}
	with, err := linux.New()
	if err != nil {
		return res, err
	}
	defer with.Close()
	without, err := linux.New(linux.WithoutBirthTimes())
	if err != nil {
		return res, err
	}
	defer without.Close()
	if src, why := with.TraceSource(); src != linux.TraceBPF {
		return res, fmt.Errorf("no BPF recorder: %v", why)
	}
	h, err := holdPairs(pairs)
	if err != nil {
		return res, err
	}
	defer h.close()
	var w, wo []tableTiming
	// A first call of each warms both scans' caches alike.
	for _, p := range []*linux.Provider{with, without} {
		if _, err := timeTable(p); err != nil {
			return res, err
		}
	}
	for i := range reps {
		first, second := with, without
		if i%2 == 1 {
			first, second = without, with
		}
		a, err := timeTable(first)
		if err != nil {
			return res, err
		}
		b, err := timeTable(second)
		if err != nil {
			return res, err
		}
		if first == without {
			a, b = b, a
		}
		w, wo = append(w, a), append(wo, b)
		res.Ratios = append(res.Ratios, a.Ms/b.Ms)
		res.CPURatios = append(res.CPURatios, a.CPUMs/b.CPUMs)
	}
	res.With, res.Without = medianTiming(w), medianTiming(wo)
	return res, nil
}

// timeTable times one Table call of p after a garbage collection.
func timeTable(p *linux.Provider) (tableTiming, error) {
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	c0, t := selfCPU(), time.Now()
	rows, err := p.Table(context.Background(), tcptable.Query{})
	d, c := time.Since(t), selfCPU()-c0
	runtime.ReadMemStats(&m1)
	if err != nil {
		return tableTiming{}, err
	}
	r := tableTiming{Ms: ms(d), CPUMs: ms(c), AllocKB: float64(m1.TotalAlloc-m0.TotalAlloc) / 1024, Rows: len(rows)}
	for i := range rows {
		if !rows[i].Created.IsZero() {
			r.Created++
		}
	}
	return r, nil
}

// medianTiming is the median of each measure of ts.
func medianTiming(ts []tableTiming) tableTiming {
	pick := func(f func(tableTiming) float64) float64 {
		v := make([]float64, len(ts))
		for i, t := range ts {
			v[i] = f(t)
		}
		return medianOf(v)
	}
	return tableTiming{
		Ms:      pick(func(t tableTiming) float64 { return t.Ms }),
		CPUMs:   pick(func(t tableTiming) float64 { return t.CPUMs }),
		AllocKB: pick(func(t tableTiming) float64 { return t.AllocKB }),
		Rows:    ts[len(ts)-1].Rows,
		Created: ts[len(ts)-1].Created,
	}
}

// medianOf returns the median of v (which it sorts), 0 for none.
func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return v[len(v)/2]
}

// pairHolder keeps loopback pairs open.
type pairHolder struct{ conns []net.Conn }

func (h *pairHolder) close() {
	for _, c := range h.conns {
		c.Close()
	}
}

func holdPairs(n int) (*pairHolder, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer l.Close()
	h := &pairHolder{}
	for range n {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			h.close()
			return nil, err
		}
		s, err := l.Accept()
		if err != nil {
			c.Close()
			h.close()
			return nil, err
		}
		h.conns = append(h.conns, c, s)
	}
	return h, nil
}
