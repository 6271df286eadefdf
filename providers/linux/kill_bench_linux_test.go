package linux

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/testenv"
)

// BenchmarkKillLookup times one point lookup of an established socket
// (SOCK_DIAG_BY_FAMILY without NLM_F_DUMP, the kernel's
// inet_diag_find_one_icsk): Kill makes three such exchanges (find,
// SOCK_DESTROY, verify), whatever the size of the table. docs/linux.md
// compares it with vishvananda/netlink's plumbing and its SocketGet.
func BenchmarkKillLookup(b *testing.B) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	d, err := openDiag()
	if err != nil {
		testenv.SkipOrFail(b, "no sock_diag here: %v", err)
	}
	defer d.close()
	row := netip.MustParseAddrPort(c.LocalAddr().String())
	id, err := sockIDOf(&tcptable.Connection{Local: row, Remote: netip.MustParseAddrPort(c.RemoteAddr().String())})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		a, err := d.exact(ctx, sockDiagByFamily, &id, 0)
		if err != nil || !a.Found {
			b.Fatalf("lookup: %v %+v", err, a)
		}
	}
}
