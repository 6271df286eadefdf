package conformance

import (
	"context"
	"errors"

	"github.com/tcptable/tcptable"
)

// invalidQueries are queries that Query.Validate rejects, one bad field
// each: values beyond the constants, and states that are not MIB_TCP_STATE
// values.
var invalidQueries = [...]tcptable.Query{
	{Class: tcptable.ClassConnections + 5},
	{Family: tcptable.IPv6 + 7},
	{Owners: tcptable.OwnerNone + 7},
	{States: []tcptable.State{tcptable.StateListen, 0}},
	{States: []tcptable.State{tcptable.StateDeleteTCB + 87}},
}

// checkInvalidQuery: a query with a value no constant names is an error
// wrapping tcptable.ErrInvalid, never silently read as "all" or "none",
// and the provider still answers good queries afterwards.
func checkInvalidQuery(s *session, _ string) {
	for _, q := range invalidQueries {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
		rows, err := s.call(ctx, q)
		cancel()
		if !errors.Is(err, tcptable.ErrInvalid) {
			s.t.Errorf("Table(%s) returned %d rows and error %v, want an error wrapping tcptable.ErrInvalid (call Query.Validate first)",
				showQuery(q), len(rows), err)
		}
	}
	s.table(tcptable.Query{})
}
