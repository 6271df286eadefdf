package linux_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux"
)

// Who holds established HTTPS connections, with their traffic counters?
// (This reads the real host, so it has no fixed output.)
func ExampleNew() {
	p, err := linux.New()
	if err != nil {
		log.Fatal(err) // not Linux: an error wrapping tcptable.ErrNotSupported
	}
	defer p.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := p.Table(ctx, tcptable.Query{
		States: []tcptable.State{tcptable.StateEstablished},
		Port:   443,
		Stats:  true, // tcp_info from the same sock_diag dump
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range rows {
		// OwnerStatus says why a PID is 0 (another user's process without
		// root, a TIME-WAIT row the kernel owns, ...).
		fmt.Println(c.Local, c.Remote, c.PID, c.Module.Name, c.OwnerStatus)
		if c.Stats != nil {
			fmt.Println("  sent", c.Stats.BytesSent, "received", c.Stats.BytesReceived, "rtt", c.Stats.RTT)
		}
		if !c.Created.IsZero() { // born while p was open (BPF, root)
			fmt.Println("  since", c.Created)
		}
	}
}

// Every listener of the host, in every network namespace (each container's
// included), with the namespace and container that holds it. As root; an
// unprivileged caller gets its own namespace only.
func ExampleWithAllNetNS() {
	p, err := linux.New(linux.WithAllNetNS())
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	rows, err := p.Table(context.Background(), tcptable.Query{Class: tcptable.ClassListeners})
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range rows {
		ns := c.NetNSName // the name ip netns gave it, if any
		if ns == "" {
			ns = fmt.Sprint(c.NetNS) // else its inode, as lsns shows it
		}
		fmt.Println(ns, c.Container, c.Local, c.PID, c.Module.Name)
	}
}
