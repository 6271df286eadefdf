package metrics

import "time"

// WithClock makes the collector read the time from now (tests only).
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// OpenHold and MaxHeldOpens are hold.go's bounds, for tests.
const (
	OpenHold     = openHold
	MaxHeldOpens = maxHeldOpens
)
