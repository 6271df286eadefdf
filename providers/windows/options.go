package windows

import (
	"strconv"

	"github.com/tcptable/tcptable/providers/internal/option"
)

// Defaults for the size negotiation with GetExtendedTcpTable.
const (
	// defaultInitialSize holds about 400 IPv4 rows: most hosts never need
	// a second call.
	defaultInitialSize = 64 << 10
	// defaultTries bounds the calls of one negotiation. The table can grow
	// between two calls; with the slack added to every grown buffer, more
	// than a couple of retries means something is wrong.
	defaultTries = 8
	// maxBufferSize caps the buffer any negotiation allocates: 256 MiB is
	// 1.6 million IPv4 rows, far beyond the TCP table of any real host.
	maxBufferSize = 256 << 20
)

// Option configures New. An option given an argument it cannot use makes
// New fail with an error wrapping tcptable.ErrInvalid that names the
// option. The Linux and gopsutil providers' options have the same shape.
type Option func(*config) error

type config struct {
	initialSize int // first buffer for each family's table
	tries       int // calls per negotiation before giving up
}

func defaultConfig() config {
	return config{initialSize: defaultInitialSize, tries: defaultTries}
}

// WithInitialBufferSize sets the size in bytes of the first buffer offered to
// GetExtendedTcpTable for each family (default 64 KiB). The provider keeps
// and reuses the buffer it ends up with, so this matters only for the first
// call. n must be between 8 and 256 MiB.
func WithInitialBufferSize(n int) Option {
	return func(c *config) error {
		if n < tableHeaderSize || n > maxBufferSize {
			return option.Invalid("WithInitialBufferSize("+strconv.Itoa(n)+")",
				"want "+strconv.Itoa(tableHeaderSize)+" to "+strconv.Itoa(maxBufferSize)+" bytes")
		}
		c.initialSize = n
		return nil
	}
}

// WithRetries sets how many times one Table call may ask the OS for the table
// of a family while it grows between calls (default 8, at least 1).
func WithRetries(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return option.Invalid("WithRetries("+strconv.Itoa(n)+")", "need at least 1")
		}
		c.tries = n
		return nil
	}
}

// apply builds the configuration from opts.
func apply(opts []Option) (config, error) {
	c := defaultConfig()
	return c, option.Apply(&c, opts)
}
