package windows

import (
	"errors"
	"fmt"

	"github.com/tcptable/tcptable"
)

// The Windows return codes that mean "the buffer was too small".
const (
	errInsufficientBuffer = 122        // ERROR_INSUFFICIENT_BUFFER: size holds what is needed
	statusUnsuccessful    = 0xC0000001 // undocumented STATUS_UNSUCCESSFUL some versions return when the table grew between calls
)

// errBufferTooSmall is what a fillFunc returns (possibly wrapped) when the OS
// said the buffer was too small.
var errBufferTooSmall = errors.New("buffer too small")

// fillFunc asks the OS to fill b. *size is len(b) on entry; when the OS says
// the buffer is too small (the result wraps errBufferTooSmall), *size may
// hold the size it needs.
type fillFunc func(b []byte, size *uint32) error

// negotiate calls fill with buf, growing it while the OS says it is too
// small, at most tries times, never beyond limit bytes. It returns the buffer
// that fill succeeded with (the caller keeps it for the next call) or an
// error naming what (what the call is for).
//
// A grown buffer is the size the OS asked for plus a quarter and 4 KiB of
// slack, since the table may grow again before the next call; when the OS
// names no larger size (STATUS_UNSUCCESSFUL), the buffer doubles.
func negotiate(what string, buf []byte, tries, limit int, fill fillFunc) ([]byte, error) {
	var last error
	for range tries {
		size := uint32(len(buf))
		err := fill(buf, &size)
		if err == nil {
			return buf, nil
		}
		if !errors.Is(err, errBufferTooSmall) {
			return buf, fmt.Errorf("%s: %w", what, err)
		}
		last = err
		// int64: a size near 4 GiB must not wrap on 32-bit platforms.
		asked, have := int64(size), int64(len(buf))
		if asked > int64(limit) {
			return buf, fmt.Errorf("%s: the OS asks for %d bytes, more than the %d-byte limit", what, asked, limit)
		}
		grown := asked + asked/4 + 4096
		if asked <= have {
			grown = max(2*have, 4096)
		}
		buf = make([]byte, min(grown, int64(limit)))
	}
	return buf, fmt.Errorf("%s: %w: still too small after %d tries (%d bytes; last: %v)",
		what, tcptable.ErrInconsistent, tries, len(buf), last)
}
