package events

import "time"

// Clock converts times of the kernel's boot clock (CLOCK_BOOTTIME, which
// bpf_ktime_get_boot_ns reads, and which unlike CLOCK_MONOTONIC keeps
// counting while the machine is suspended) into wall time. It is the
// offset between the two clocks measured once, when the recorder started:
// a later step of the wall clock (settimeofday, an NTP step) is not
// followed, so that the same socket keeps the same birth time in every
// answer.
type Clock struct {
	base uint64    // a boot-clock reading, ns
	wall time.Time // the wall time at base
}

// NewClock returns the clock for which boot-clock time base was wall
// time wall.
func NewClock(base uint64, wall time.Time) Clock { return Clock{base: base, wall: wall} }

// Wall returns the wall time, in UTC, of boot-clock time ns; the zero Time
// for 0 (unknown).
func (c Clock) Wall(ns uint64) time.Time {
	if ns == 0 || c.wall.IsZero() {
		return time.Time{}
	}
	return c.wall.Add(time.Duration(int64(ns - c.base))).UTC()
}

// bestSample picks, of samples of (boot clock before, wall clock, boot
// clock after), the one read in the shortest time, and returns the middle
// of its boot-clock interval and its wall time.
func bestSample(samples [][3]int64) (base uint64, wall time.Time) {
	best := -1
	for i, s := range samples {
		if s[2] < s[0] {
			continue
		}
		if best < 0 || s[2]-s[0] < samples[best][2]-samples[best][0] {
			best = i
		}
	}
	if best < 0 {
		return 0, time.Time{}
	}
	s := samples[best]
	return uint64(s[0] + (s[2]-s[0])/2), time.Unix(0, s[1]).UTC()
}
