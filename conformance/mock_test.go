package conformance_test

import (
	"testing"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/providers/mock"
)

// TestMock runs the suite against the mock, which is its own Env.
func TestMock(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p := mock.New()
		return p, p
	})
}
