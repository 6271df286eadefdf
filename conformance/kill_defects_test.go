package conformance_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// killer is a provider around the mock whose Kill does something else.
type killer struct {
	*wrapper
	kill func(ctx context.Context, c tcptable.Connection) error
}

func (k *killer) Kill(ctx context.Context, c tcptable.Connection) error { return k.kill(ctx, c) }

// withKill returns the mock with Kill replaced.
func withKill(p *mock.Provider, kill func(ctx context.Context, c tcptable.Connection) error) tcptable.Provider {
	return &killer{wrapper: &wrapper{Provider: p, table: p.Table}, kill: kill}
}

// rowWith returns the first of the mock's rows that pick selects.
func rowWith(p *mock.Provider, pick func(c *tcptable.Connection) bool) (tcptable.Connection, bool) {
	for _, c := range p.Rows() {
		if pick(&c) {
			return c, true
		}
	}
	return tcptable.Connection{}, false
}

// hasKey reports whether the mock has a row with k.
func hasKey(p *mock.Provider, k tcptable.Key) bool {
	_, ok := rowWith(p, func(c *tcptable.Connection) bool { return c.Key() == k })
	return ok
}

// notKiller hides the mock's Kill: a provider that cannot end connections.
type notKiller struct{ tcptable.Provider }

// killDefects are the killers the suite's Kill check must fail, and odd
// but legal ones it must pass.
var killDefects = map[string]defect{
	"kill-assumed": {
		// The mock's own fault: Kill reports success, the row stays.
		wrap: func(p *mock.Provider) tcptable.Provider {
			p.FaultKillNext(mock.KillFault{Keep: true}, mock.KillFault{Keep: true})
			return p
		},
		subtest: "Kill/tcp4", message: "right after Kill returned (a kill is verified, never assumed)",
		passes: "Listener/tcp4",
	},
	"kill-hides-row": {
		// The row leaves the table, but the connection was never ended.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return withKill(p, func(ctx context.Context, c tcptable.Connection) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				if p.Remove(c.Key()) == 0 {
					return tcptable.ErrNotFound
				}
				return nil
			})
		},
		subtest: "Kill/tcp4", message: "did not see the connection end",
	},
	"kill-wrong-row": {
		// Ends another connection than the one asked for.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return withKill(p, func(ctx context.Context, c tcptable.Connection) error {
				other, ok := rowWith(p, func(r *tcptable.Connection) bool {
					return r.State == tcptable.StateEstablished && r.Local != c.Local && r.Local != c.Remote
				})
				if !ok {
					return fmt.Errorf("defect: %w", tcptable.ErrNotFound)
				}
				return p.Kill(ctx, other)
			})
		},
		subtest: "Kill/tcp4", message: "still reported",
	},
	"kill-missing-nil": {
		// Reports success for a row that is not there.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return withKill(p, func(ctx context.Context, c tcptable.Connection) error {
				if err := p.Kill(ctx, c); !errors.Is(err, tcptable.ErrNotFound) {
					return err
				}
				return nil
			})
		},
		subtest: "Kill/tcp4", message: "of a row already killed returned <nil>, want an error wrapping tcptable.ErrNotFound",
	},
	"kill-by-address": {
		// Names the socket by its local address alone where the
		// four-tuple is gone, as a SOCK_DESTROY with INET_DIAG_NOCOOKIE
		// does: the kernel's lookup then finds the listener on that port.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return withKill(p, func(ctx context.Context, c tcptable.Connection) error {
				if !hasKey(p, c.Key()) {
					if ln, ok := rowWith(p, func(r *tcptable.Connection) bool {
						return r.State == tcptable.StateListen && r.Local == c.Local
					}); ok {
						c = ln
					}
				}
				return p.Kill(ctx, c)
			})
		},
		subtest: "Kill/tcp4", message: "a connection that does not exist on a listener's port, returned <nil>",
	},
	"kill-ignores-context": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return withKill(p, func(_ context.Context, c tcptable.Connection) error {
				return p.Kill(context.Background(), c)
			})
		},
		subtest: "Kill/tcp4", message: "with a cancelled context returned <nil>, want an error wrapping context.Canceled",
	},
	"kill-panics": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return withKill(p, func(context.Context, tcptable.Connection) error { panic("defect: nil map") })
		},
		subtest: "Kill/tcp4", message: "panicked: defect: nil map",
	},
	// Odd but legal.
	"kill-not-supported": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return withKill(p, func(context.Context, tcptable.Connection) error {
				return fmt.Errorf("test: no API to end a connection here: %w", tcptable.ErrNotSupported)
			})
		},
		message: "--- SKIP: TestDefectChild/Kill/tcp4", logs: "no API to end a connection here: not supported (gap no-kill)",
	},
	"kill-listener-not-supported": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return withKill(p, func(ctx context.Context, c tcptable.Connection) error {
				if c.State == tcptable.StateListen {
					return fmt.Errorf("test: connections only: %w", tcptable.ErrNotSupported)
				}
				return p.Kill(ctx, c)
			})
		},
		message: "--- PASS: TestDefectChild/Kill/tcp4", logs: "test: connections only: not supported: ending a listener is not checked here",
	},
	"no-killer": {
		wrap:    func(p *mock.Provider) tcptable.Provider { return notKiller{p} },
		message: "--- SKIP: TestDefectChild/Kill/tcp4", logs: "does not implement tcptable.Killer",
	},
}
