// Package native returns the provider for the OS the binary was built for:
// the netlink provider on Linux, the GetExtendedTcpTable provider on
// Windows, and the gopsutil provider on macOS, FreeBSD, OpenBSD, NetBSD and
// AIX. Where the first choice cannot be made (for example on Windows
// without iphlpapi.dll's owner-module calls), New falls back to the next.
// docs/platforms.md says what each OS's provider fills and costs.
package native

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/tcptable/tcptable"
)

// New returns the best provider that works on this OS. Where none does, it
// returns an error wrapping tcptable.ErrNotSupported that names the OS and
// says why each candidate failed.
func New() (tcptable.Provider, error) {
	return first(runtime.GOOS, candidates())
}

// candidate is one provider New may choose.
type candidate struct {
	name string
	make func() (tcptable.Provider, error)
}

// candidateOf adapts a provider constructor. It keeps a failed
// constructor's typed nil pointer out of the tcptable.Provider interface.
func candidateOf[P tcptable.Provider](name string, mk func() (P, error)) candidate {
	return candidate{name: name, make: func() (tcptable.Provider, error) {
		p, err := mk()
		if err != nil {
			return nil, err
		}
		return p, nil
	}}
}

// first returns the first of cs that can be made on goos.
func first(goos string, cs []candidate) (tcptable.Provider, error) {
	errs := []error{tcptable.ErrNotSupported}
	for _, c := range cs {
		p, err := c.make()
		if err == nil {
			return p, nil
		}
		errs = append(errs, fmt.Errorf("%s provider: %w", c.name, err))
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("tcptable/native: no provider for %s: %w", goos, tcptable.ErrNotSupported)
	}
	return nil, fmt.Errorf("tcptable/native: no provider works on %s: %w", goos, errors.Join(errs...))
}
