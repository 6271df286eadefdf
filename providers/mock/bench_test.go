package mock_test

import (
	"bytes"
	"context"
	"net/netip"
	"testing"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// busyTable returns n rows shaped like a busy server's table: a few
// listeners, mostly ESTABLISHED and TIME-WAIT connections from many
// clients, a third of them IPv6.
func busyTable(n int) []tcptable.Connection {
	rows := make([]tcptable.Connection, 0, n)
	nginx := tcptable.Module{Name: "nginx", Path: "/usr/sbin/nginx"}
	for i := range n {
		local := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 1}), 443)
		remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), uint16(1024+i%60000))
		if i%3 == 0 {
			local = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::1"), 443)
			remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)}), uint16(1024+i%60000))
		}
		c := tcptable.Connection{State: tcptable.StateEstablished, Local: local, Remote: remote, PID: 300, Module: nginx}
		switch {
		case i < 8:
			c = tcptable.Connection{State: tcptable.StateListen, Local: netip.AddrPortFrom(local.Addr(), uint16(8000+i)), PID: 300, Module: nginx}
		case i%4 == 0:
			c.State, c.PID, c.Module, c.OwnerStatus = tcptable.StateTimeWait, 0, tcptable.Module{}, tcptable.OwnerKernel
		}
		rows = append(rows, c)
	}
	return rows
}

func BenchmarkTable(b *testing.B) {
	p := mock.New(busyTable(10000)...)
	for _, bc := range []struct {
		name string
		q    tcptable.Query
	}{
		{"all", tcptable.Query{}},
		{"listeners", tcptable.Query{Class: tcptable.ClassListeners}},
		{"ipv6-pids", tcptable.Query{Family: tcptable.IPv6, Owners: tcptable.OwnerPIDs}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Table(context.Background(), bc.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadJSON(b *testing.B) {
	var buf bytes.Buffer
	if err := mock.New(busyTable(10000)...).Save(&buf); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := mock.ReadJSON(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}
