package mock_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// whoListens is the code under test in these examples: a downstream
// function that asks any provider who listens on a port.
func whoListens(ctx context.Context, p tcptable.Provider, port uint16) ([]string, error) {
	rows, err := p.Table(ctx, tcptable.Query{Class: tcptable.ClassListeners, LocalPort: port})
	if err != nil {
		return nil, fmt.Errorf("who listens on :%d: %w", port, err)
	}
	var out []string
	for _, c := range rows {
		out = append(out, fmt.Sprintf("%s (pid %d) on %v", c.Module.Name, c.PID, c.Local))
	}
	return out, nil
}

// A downstream unit test serves a hand-written table and checks what its
// code makes of it.
func Example() {
	p := mock.New(
		tcptable.Connection{
			State:  tcptable.StateListen,
			Local:  netip.MustParseAddrPort("0.0.0.0:8080"),
			PID:    4242,
			Module: tcptable.Module{Name: "nginx", Path: "/usr/sbin/nginx"},
		},
		tcptable.Connection{
			State:  tcptable.StateEstablished,
			Local:  netip.MustParseAddrPort("10.0.0.5:8080"),
			Remote: netip.MustParseAddrPort("10.0.0.9:51000"),
			PID:    4242,
			Module: tcptable.Module{Name: "nginx"},
		},
		tcptable.Connection{
			State:  tcptable.StateListen,
			Local:  netip.MustParseAddrPort("[::1]:5432"),
			PID:    77,
			Module: tcptable.Module{Name: "postgres"},
		},
	)
	defer p.Close()

	who, err := whoListens(context.Background(), p, 8080)
	fmt.Println(who, err)

	// The test can also check what its code asked for.
	q := p.Queries()[0]
	fmt.Println(q.Class, q.LocalPort)
	// Output:
	// [nginx (pid 4242) on 0.0.0.0:8080] <nil>
	// listeners 8080
}

// FailNext makes the code under test meet an error; the error comes back
// unchanged, so errors.Is works through the code's wrapping.
func ExampleProvider_FailNext() {
	p := mock.New()
	p.FailNext(tcptable.ErrInconsistent)

	_, err := whoListens(context.Background(), p, 8080)
	fmt.Println(errors.Is(err, tcptable.ErrInconsistent))
	_, err = whoListens(context.Background(), p, 8080)
	fmt.Println(err)
	// Output:
	// true
	// <nil>
}

// Editing the table between two calls shows the code under test a
// connection moving through its states.
func ExampleProvider_SetState() {
	c := tcptable.Connection{
		State:  tcptable.StateEstablished,
		Local:  netip.MustParseAddrPort("127.0.0.1:40001"),
		Remote: netip.MustParseAddrPort("127.0.0.1:8080"),
		PID:    99,
	}
	p := mock.New(c)
	p.SetState(c.Key(), tcptable.StateFinWait2)

	rows, _ := p.Table(context.Background(), tcptable.Query{States: []tcptable.State{tcptable.StateFinWait2}})
	fmt.Println(len(rows), rows[0].State, rows[0].OwnerStatus)
	// Output:
	// 1 FIN-WAIT-2 ok
}

// Load replays a table captured on a real host with `tcptable --json`
// (or written by Save).
func ExampleLoad() {
	captured := `[
  {"state": "LISTEN", "local": "0.0.0.0:22", "remote": "0.0.0.0:0", "pid": 812,
   "process": "sshd", "path": "/usr/sbin/sshd", "created": null},
  {"state": "TIME-WAIT", "local": "127.0.0.1:40000", "remote": "127.0.0.1:8080", "pid": 0,
   "process": "", "path": "", "created": null, "owner_status": "kernel"}
]`
	p, err := mock.Load(strings.NewReader(captured))
	if err != nil {
		fmt.Println(err)
		return
	}
	who, _ := whoListens(context.Background(), p, 22)
	fmt.Println(who)

	// A snapshot with a typo fails loudly rather than serving a wrong table.
	_, err = mock.Load(strings.NewReader(`[{"state": "LISTEN", "locl": "0.0.0.0:22", "remote": "0.0.0.0:0"}]`))
	fmt.Println(err)
	// Output:
	// [sshd (pid 812) on 0.0.0.0:22]
	// mock: snapshot row 1: unknown key "locl": invalid input
}

// SetStats and AddTraffic give rows traffic counters, which Table returns
// when Query.Stats asks: a test of code that ranks connections by traffic.
func ExampleProvider_AddTraffic() {
	web := tcptable.Connection{
		State:  tcptable.StateEstablished,
		Local:  netip.MustParseAddrPort("10.0.0.5:443"),
		Remote: netip.MustParseAddrPort("10.0.0.9:51000"),
		PID:    4242,
		Module: tcptable.Module{Name: "nginx"},
	}
	p := mock.New(web)
	defer p.Close()
	p.SetStats(web.Key(), tcptable.Stats{BytesSent: 1 << 20, BytesReceived: 4096})
	p.AddTraffic(web.Key(), 1000, 0) // 1000 bytes more sent

	rows, _ := p.Table(context.Background(), tcptable.Query{Stats: true})
	st := rows[0].Stats
	fmt.Println(rows[0].StatsStatus, st.BytesSent, st.BytesReceived)
	rows, _ = p.Table(context.Background(), tcptable.Query{})
	fmt.Println(rows[0].StatsStatus, rows[0].Stats == nil)
	// Output:
	// ok 1049576 4096
	// not-requested true
}

// The mock traces its edits as a kernel reports changes: a Watcher over it
// sees a connection that opens and closes between two of its polls, and a
// loss is reported, never silent, then made good from a snapshot.
func Example_tracedWatch() {
	web := tcptable.Module{Name: "web"}
	listener := tcptable.Connection{State: tcptable.StateListen, Local: netip.MustParseAddrPort("127.0.0.1:8080"), PID: 4242, Module: web}
	p := mock.New(listener)
	ctx := context.Background()
	w := tcptable.NewWatcher(p, tcptable.Query{})
	defer w.Close()
	if err := w.Start(ctx); err != nil { // the trace starts, then the baseline is read
		fmt.Println(err)
		return
	}
	fmt.Println("source:", w.Source())

	// A client that connects and is gone a millisecond later.
	curl := tcptable.Connection{
		State: tcptable.StateEstablished, Local: netip.MustParseAddrPort("127.0.0.1:51234"),
		Remote: netip.MustParseAddrPort("127.0.0.1:8080"), PID: 5000, Module: tcptable.Module{Name: "curl"},
	}
	p.Add(curl)
	p.Remove(curl.Key())

	// The kernel's buffer overflows while two clients connect.
	p.LoseEvents(2)
	accepted := func(port uint16) tcptable.Connection {
		return tcptable.Connection{
			State: tcptable.StateEstablished, Local: listener.Local,
			Remote: netip.AddrPortFrom(listener.Local.Addr(), port), PID: 4242, Module: web,
		}
	}
	p.Set(listener, accepted(51300), accepted(51301))
	p.Flush() // the trace has handed over every event (a kernel's come when they come)

	for range 2 { // the second Poll resynchronises after the loss
		events, err := w.Poll(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, e := range events {
			fmt.Println(e)
		}
	}
	// Output:
	// source: trace (mock)
	// opened 127.0.0.1:51234 127.0.0.1:8080 ESTABLISHED pid 5000 "curl"
	// closed 127.0.0.1:51234 127.0.0.1:8080 ESTABLISHED pid 5000 "curl"
	// lost 2 events
	// opened 127.0.0.1:8080 127.0.0.1:51300 ESTABLISHED pid 4242 "web"
	// opened 127.0.0.1:8080 127.0.0.1:51301 ESTABLISHED pid 4242 "web"
}
