// Package native returns the provider for the OS the binary was built for.
package native

import (
	"fmt"
	"runtime"

	"github.com/tcptable/tcptable"
)

// New returns the best provider for this OS.
func New() (tcptable.Provider, error) {
	return nil, fmt.Errorf("tcptable/native: %s: %w", runtime.GOOS, tcptable.ErrNotSupported)
}
