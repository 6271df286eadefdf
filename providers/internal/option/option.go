// Package option applies the functional options of the providers, which
// all have one shape: a func(*config) error that sets a field of the
// provider's configuration or rejects its argument with an error wrapping
// tcptable.ErrInvalid (see Invalid).
package option

import (
	"fmt"

	"github.com/tcptable/tcptable"
)

// Apply applies opts to c in order, skipping nil ones, and returns the
// first option's error.
func Apply[C any, O ~func(*C) error](c *C, opts []O) error {
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(c); err != nil {
			return err
		}
	}
	return nil
}

// Invalid returns the error of an option whose argument cannot be used:
// it wraps tcptable.ErrInvalid and reads "invalid input: " followed by
// call (the option as called, such as "WithWorkers(-1)"), ": " and why.
func Invalid(call, why string) error {
	return fmt.Errorf("%w: %s: %s", tcptable.ErrInvalid, call, why)
}
