package tcptable_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
	"github.com/tcptable/tcptable/providers/native"
)

func ExampleDiff() {
	client := tcptable.Connection{
		State:  tcptable.StateEstablished,
		Local:  netip.MustParseAddrPort("127.0.0.1:51234"),
		Remote: netip.MustParseAddrPort("127.0.0.1:8080"),
		PID:    5000, Module: tcptable.Module{Name: "curl"},
	}
	closing := client
	closing.State, closing.PID, closing.Module = tcptable.StateTimeWait, 0, tcptable.Module{}

	for _, e := range tcptable.Diff([]tcptable.Connection{client}, []tcptable.Connection{closing}) {
		fmt.Println(e)
	}
	// Output:
	// state-changed 127.0.0.1:51234 127.0.0.1:8080 ESTABLISHED -> TIME-WAIT
	// owner-changed 127.0.0.1:51234 127.0.0.1:8080 pid 5000 "curl" -> pid 0 ""
}

func ExampleWatcher() {
	p := mock.New(tcptable.Connection{
		State: tcptable.StateListen, Local: netip.MustParseAddrPort("127.0.0.1:8080"),
		PID: 4242, Module: tcptable.Module{Name: "web"},
	})
	w := tcptable.NewWatcher(p, tcptable.Query{})
	ctx := context.Background()
	if _, err := w.Poll(ctx); err != nil { // the baseline: no events
		log.Fatal(err)
	}

	p.Add(tcptable.Connection{
		State: tcptable.StateEstablished, Local: netip.MustParseAddrPort("127.0.0.1:8080"),
		Remote: netip.MustParseAddrPort("127.0.0.1:51234"), PID: 4242, Module: tcptable.Module{Name: "web"},
	})
	events, err := w.Poll(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		seen, _ := w.FirstSeen(e.Key)
		fmt.Println(e, "first seen at this poll:", seen.Equal(w.PolledAt()))
	}
	// Output:
	// opened 127.0.0.1:8080 127.0.0.1:51234 ESTABLISHED pid 4242 "web" first seen at this poll: true
}

func ExampleWatch() {
	p, err := native.New()
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	// Print listeners as they come and go until Ctrl-C.
	err = tcptable.Watch(ctx, p, tcptable.Query{Class: tcptable.ClassListeners}, time.Second, func(e tcptable.Event) error {
		fmt.Println(e.Time.Format(time.TimeOnly), e)
		return nil
	})
	if err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}
