package events

import (
	"os"
	"testing"
	"time"
)

func BenchmarkOpen(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	var open, cl time.Duration
	for b.Loop() {
		t0 := time.Now()
		r, err := Open(Options{NetNS: 1})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		r.Close()
		open += t1.Sub(t0)
		cl += time.Since(t1)
	}
	b.ReportMetric(float64(open.Microseconds())/float64(b.N), "open-µs/op")
	b.ReportMetric(float64(cl.Microseconds())/float64(b.N), "close-µs/op")
}
