package conformance_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/providers/mock"
)

// Run needs the *testing.T of a test function, so a provider's module
// calls it from one of its tests:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, mk, opts...)
//	}
//
// with mk making a fresh provider and Env for every subtest, and opts
// declaring, with their reasons, what the platform cannot do. Here the mock
// stands in for the provider (TestMock in this package runs exactly this).
func ExampleRun() {
	mk := conformance.MakeProvider(func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p := mock.New() // yours: p, err := myprovider.New(); if err != nil { t.Fatal(err) }
		return p, p     // the mock simulates the endpoints; yours: conformance.OSEnv(), real sockets on loopback
	})
	opts := []conformance.Option{
		conformance.DeclareGap(conformance.NoDualStack, "the OS does not say whether an IPv6 socket accepts IPv4"),
		conformance.WithTimeout(30 * time.Second), // a slow table on a busy CI host
	}
	fmt.Printf("%T, %d options; gap %v\n", mk, len(opts), conformance.NoDualStack)
	// Output: conformance.MakeProvider, 2 options; gap no-dual-stack
}
