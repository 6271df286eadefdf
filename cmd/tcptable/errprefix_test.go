package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcptable/tcptable"
)

// failing is a provider whose every Table call returns rows (a copy) and
// err.
type failing struct {
	err  error
	rows []tcptable.Connection
}

func (f failing) Table(context.Context, tcptable.Query) ([]tcptable.Connection, error) {
	return append([]tcptable.Connection(nil), f.rows...), f.err
}

func (failing) Close() error { return nil }

// TestErrorPrefixOnce: an error of the root package (ErrClosed;
// ErrInconsistent's warning) is printed with the "tcptable: " prefix once,
// and so is a query Validate rejects, which has no package prefix of its
// own, as a provider returns it (after its own prefix) or unwrapped.
func TestErrorPrefixOnce(t *testing.T) {
	invalid := tcptable.Query{Class: 7}.Validate()
	for _, tt := range []struct {
		name string
		p    tcptable.Provider
		args []string
		want string
	}{
		{"validate", failing{err: invalid}, nil, "tcptable: query: invalid input: unknown Class Class(7)\n"},
		{"provider", failing{err: fmt.Errorf("tcptable/linux: Table: %w", invalid)}, nil, "tcptable: tcptable/linux: Table: query: invalid input: unknown Class Class(7)\n"},
		{"closed", failing{err: tcptable.ErrClosed}, []string{"--watch", "1s"}, "tcptable: provider closed\n"},
		{"wrapped", failing{err: fmt.Errorf("netlink: %w", invalid)}, nil, "tcptable: netlink: query: invalid input: unknown Class Class(7)\n"},
		{"inconsistent", failing{tcptable.ErrInconsistent, linuxRows()[:1]}, nil, "tcptable: warning: table changed while it was read; snapshot may be inconsistent\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, _, stderr := testApp(tt.p)
			a.run(context.Background(), tt.args)
			first, _, _ := strings.Cut(stderr.String(), "\n")
			assert.Equal(t, tt.want, first+"\n")
		})
	}
}
