package events

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// clockSamples is how many readings MeasureClock takes.
const clockSamples = 5

// MeasureClock measures the offset between CLOCK_BOOTTIME and
// CLOCK_REALTIME: it reads boot, wall, boot a few times and keeps the
// reading bracketed most tightly (a few hundred nanoseconds through the
// vDSO), so the error of every converted time is at most half that.
func MeasureClock() (Clock, error) {
	var samples [clockSamples][3]int64
	for i := range samples {
		var a, w, b unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &a); err != nil {
			return Clock{}, fmt.Errorf("clock_gettime(CLOCK_BOOTTIME): %w", err)
		}
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &w); err != nil {
			return Clock{}, fmt.Errorf("clock_gettime(CLOCK_REALTIME): %w", err)
		}
		if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &b); err != nil {
			return Clock{}, fmt.Errorf("clock_gettime(CLOCK_BOOTTIME): %w", err)
		}
		samples[i] = [3]int64{a.Nano(), w.Nano(), b.Nano()}
	}
	base, wall := bestSample(samples[:])
	return NewClock(base, wall), nil
}
