package tcptable_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcptable/tcptable"
)

func row(st tcptable.State, local, remote string, pid uint32) tcptable.Connection {
	return tcptable.Connection{
		State:  st,
		Local:  netip.MustParseAddrPort(local),
		Remote: netip.MustParseAddrPort(remote),
		PID:    pid,
		Module: tcptable.Module{Name: "nginx"},
	}
}

func TestQueryMatch(t *testing.T) {
	listen4 := row(tcptable.StateListen, "127.0.0.1:8080", "0.0.0.0:0", 10)
	listen6 := row(tcptable.StateListen, "[::1]:8080", "[::]:0", 10)
	est4 := row(tcptable.StateEstablished, "127.0.0.1:40000", "127.0.0.1:8080", 11)
	mapped := row(tcptable.StateEstablished, "[::ffff:127.0.0.1]:8080", "[::ffff:127.0.0.1]:40001", 12)
	tw := row(tcptable.StateTimeWait, "127.0.0.1:40002", "127.0.0.1:443", 0)
	shared := est4
	shared.OtherPIDs = []uint32{20, 30}

	cases := []struct {
		name string
		q    tcptable.Query
		c    tcptable.Connection
		want bool
	}{
		{"zero query matches a listener", tcptable.Query{}, listen4, true},
		{"zero query matches time-wait", tcptable.Query{}, tw, true},
		{"zero query matches an invalid state", tcptable.Query{}, row(0, "1.2.3.4:1", "0.0.0.0:0", 0), true},
		{"connections match an invalid state", tcptable.Query{Class: tcptable.ClassConnections}, row(0, "1.2.3.4:1", "5.6.7.8:2", 0), true},
		{"listeners drop an invalid state", tcptable.Query{Class: tcptable.ClassListeners}, row(0, "1.2.3.4:1", "0.0.0.0:0", 0), false},
		{"states drop an invalid state", tcptable.Query{States: []tcptable.State{tcptable.StateEstablished, tcptable.StateClosed}}, row(0, "1.2.3.4:1", "5.6.7.8:2", 0), false},
		{"listeners keep LISTEN", tcptable.Query{Class: tcptable.ClassListeners}, listen6, true},
		{"listeners drop ESTABLISHED", tcptable.Query{Class: tcptable.ClassListeners}, est4, false},
		{"connections drop LISTEN", tcptable.Query{Class: tcptable.ClassConnections}, listen4, false},
		{"connections keep TIME-WAIT", tcptable.Query{Class: tcptable.ClassConnections}, tw, true},
		{"ipv4 keeps plain IPv4", tcptable.Query{Family: tcptable.IPv4}, est4, true},
		{"ipv4 drops IPv6", tcptable.Query{Family: tcptable.IPv4}, listen6, false},
		{"ipv4 drops IPv4-mapped (an AF_INET6 socket)", tcptable.Query{Family: tcptable.IPv4}, mapped, false},
		{"ipv6 keeps IPv4-mapped", tcptable.Query{Family: tcptable.IPv6}, mapped, true},
		{"ipv6 drops IPv4", tcptable.Query{Family: tcptable.IPv6}, est4, false},
		{"states keep listed", tcptable.Query{States: []tcptable.State{tcptable.StateTimeWait, tcptable.StateListen}}, tw, true},
		{"states drop unlisted", tcptable.Query{States: []tcptable.State{tcptable.StateTimeWait}}, est4, false},
		{"states AND class", tcptable.Query{Class: tcptable.ClassListeners, States: []tcptable.State{tcptable.StateEstablished}}, est4, false},
		{"local port", tcptable.Query{LocalPort: 8080}, listen4, true},
		{"local port is not remote port", tcptable.Query{LocalPort: 8080}, est4, false},
		{"remote port", tcptable.Query{RemotePort: 8080}, est4, true},
		{"remote port miss", tcptable.Query{RemotePort: 8080}, listen4, false},
		{"port matches local", tcptable.Query{Port: 8080}, listen4, true},
		{"port matches remote", tcptable.Query{Port: 8080}, est4, true},
		{"port miss", tcptable.Query{Port: 9090}, est4, false},
		{"pid primary", tcptable.Query{PID: 11}, est4, true},
		{"pid other owner", tcptable.Query{PID: 30}, shared, true},
		{"pid miss", tcptable.Query{PID: 99}, shared, false},
		{"process ignores case", tcptable.Query{Process: "NGINX"}, est4, true},
		{"process miss", tcptable.Query{Process: "sshd"}, est4, false},
		{"all conditions", tcptable.Query{Class: tcptable.ClassConnections, Family: tcptable.IPv4, Port: 8080, PID: 11, Process: "nginx"}, est4, true},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.q.Match(c.c), c.name)
	}
}

func TestQueryDetail(t *testing.T) {
	assert.Equal(t, tcptable.OwnerModules, tcptable.Query{}.Detail())
	assert.Equal(t, tcptable.OwnerNone, tcptable.Query{Owners: tcptable.OwnerNone}.Detail())
	assert.Equal(t, tcptable.OwnerPIDs, tcptable.Query{Owners: tcptable.OwnerNone, PID: 5}.Detail())
	assert.Equal(t, tcptable.OwnerPIDs, tcptable.Query{Owners: tcptable.OwnerPIDs, PID: 5}.Detail())
	assert.Equal(t, tcptable.OwnerModules, tcptable.Query{Owners: tcptable.OwnerNone, Process: "x"}.Detail())
	assert.True(t, tcptable.OwnerPIDs.WantPIDs())
	assert.False(t, tcptable.OwnerPIDs.WantModules())
	assert.False(t, tcptable.OwnerNone.WantPIDs())
}

func TestQueryFilter(t *testing.T) {
	rows := []tcptable.Connection{
		row(tcptable.StateListen, "127.0.0.1:8080", "0.0.0.0:0", 1),
		row(tcptable.StateEstablished, "127.0.0.1:40000", "127.0.0.1:8080", 1),
		row(tcptable.StateListen, "[::1]:22", "[::]:0", 2),
	}
	got := tcptable.Query{Class: tcptable.ClassListeners}.Filter(rows)
	if assert.Len(t, got, 2) {
		assert.Equal(t, "127.0.0.1:8080", got[0].Local.String())
		assert.Equal(t, "[::1]:22", got[1].Local.String())
	}
}

func TestKey(t *testing.T) {
	est := row(tcptable.StateEstablished, "127.0.0.1:40000", "127.0.0.1:8080", 11)
	est.Socket = 777
	later := est
	later.State, later.Socket, later.PID = tcptable.StateTimeWait, 0, 0
	assert.Equal(t, est.Key(), later.Key(), "a connection keeps its Key into TIME-WAIT")

	a := row(tcptable.StateListen, "0.0.0.0:8080", "0.0.0.0:0", 10)
	b := a
	a.Socket, b.Socket = 100, 101
	assert.NotEqual(t, a.Key(), b.Key(), "SO_REUSEPORT listeners differ by socket")
	a2 := a
	a2.PID = 99
	assert.Equal(t, a.Key(), a2.Key(), "a listener's Key survives an owner change when the socket is known")

	c, d := row(tcptable.StateListen, "0.0.0.0:8080", "0.0.0.0:0", 10), row(tcptable.StateListen, "0.0.0.0:8080", "0.0.0.0:0", 20)
	assert.NotEqual(t, c.Key(), d.Key(), "without a socket identity, listeners differ by PID")
	c.Socket = 10
	assert.NotEqual(t, c.Key(), d.Key(), "socket 10 and PID 10 do not collide")
	assert.Contains(t, a.Key().String(), "0.0.0.0:8080")
}

func TestConnectionHelpers(t *testing.T) {
	c := row(tcptable.StateEstablished, "127.0.0.1:1", "127.0.0.1:2", 5)
	c.OtherPIDs = []uint32{7}
	c.OwningModuleInfo = &[16]uint64{1}
	assert.Equal(t, []uint32{5, 7}, c.Owners())
	d := c.Clone()
	d.OtherPIDs[0], d.OwningModuleInfo[0] = 8, 2
	assert.Equal(t, uint32(7), c.OtherPIDs[0], "Clone copies OtherPIDs")
	assert.Equal(t, uint64(1), c.OwningModuleInfo[0], "Clone copies OwningModuleInfo")
	assert.Nil(t, (&tcptable.Connection{}).Owners())
	assert.Equal(t, tcptable.IPv4, c.Family())
	assert.True(t, tcptable.Module{}.IsZero())
}

func TestEnumStrings(t *testing.T) {
	assert.Equal(t, "permission-denied", tcptable.OwnerPermissionDenied.String())
	assert.Equal(t, "OwnerStatus(200)", tcptable.OwnerStatus(200).String())
	assert.Equal(t, "owner-module", tcptable.SourceOwnerModule.String())
	assert.Equal(t, "ipv6", tcptable.IPv6.String())
	assert.Equal(t, "listeners", tcptable.ClassListeners.String())
	assert.Equal(t, "pids", tcptable.OwnerPIDs.String())
	for s := tcptable.OwnerStatus(0); s < 12; s++ {
		b, _ := s.MarshalText()
		var back tcptable.OwnerStatus
		assert.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, s, back)
	}
	for s := tcptable.ModuleSource(0); s < 9; s++ {
		b, _ := s.MarshalText()
		var back tcptable.ModuleSource
		assert.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, s, back)
	}
	var s tcptable.OwnerStatus
	err := s.UnmarshalText([]byte("nope"))
	assert.ErrorIs(t, err, tcptable.ErrInvalid)
	assert.Contains(t, err.Error(), `"nope"`)
}

func TestOwnerDetailApply(t *testing.T) {
	full := func() []tcptable.Connection {
		c := row(tcptable.StateListen, "127.0.0.1:8080", "0.0.0.0:0", 10)
		c.OtherPIDs, c.OwnerStatus = []uint32{11}, tcptable.OwnerOK
		c.ModuleStatus, c.ModuleSource = tcptable.OwnerOK, tcptable.SourceProcfs
		c.OwningModuleInfo, c.UID, c.HasUID = &[16]uint64{1}, 33, true
		c.Container, c.NetNS = "3f1c2a9e8b7d", 4026531840
		tw := row(tcptable.StateTimeWait, "127.0.0.1:5000", "127.0.0.1:80", 0)
		tw.Module, tw.OwnerStatus, tw.ModuleStatus = tcptable.Module{}, tcptable.OwnerKernel, tcptable.OwnerKernel
		return []tcptable.Connection{c, tw}
	}

	rows := full()
	tcptable.OwnerModules.Apply(rows)
	assert.Equal(t, full(), rows, "OwnerModules keeps everything")

	rows = full()
	tcptable.OwnerPIDs.Apply(rows)
	want := full()
	for i := range want {
		want[i].Module, want[i].ModuleSource, want[i].ModuleStatus = tcptable.Module{}, tcptable.SourceNone, tcptable.OwnerNotRequested
		want[i].Container = ""
	}
	assert.Equal(t, want, rows, "OwnerPIDs keeps PIDs and owner statuses, drops modules and the container found with them; the namespace stays")

	rows = full()
	tcptable.OwnerNone.Apply(rows)
	for i := range want {
		want[i].PID, want[i].OtherPIDs, want[i].OwnerStatus = 0, nil, tcptable.OwnerNotRequested
	}
	assert.Equal(t, want, rows, "OwnerNone drops PIDs too; OwningModuleInfo and UID come with the row and stay")
	assert.NotNil(t, rows[0].OwningModuleInfo)

	tcptable.OwnerNone.Apply(nil) // no rows, no panic
}

// TestDualStack: a dual-stack row ([::]:P, IPV6_V6ONLY off) matches IPv4
// queries as well as IPv6 ones; a row on [::] that is V6ONLY does not.
func TestDualStack(t *testing.T) {
	dual := row(tcptable.StateListen, "[::]:8080", "[::]:0", 10)
	dual.DualStack = true
	v6only := row(tcptable.StateListen, "[::]:8081", "[::]:0", 10)
	for _, tt := range []struct {
		name string
		q    tcptable.Query
		c    tcptable.Connection
		want bool
	}{
		{"ipv4 keeps a dual-stack listener", tcptable.Query{Family: tcptable.IPv4}, dual, true},
		{"ipv4 and its port", tcptable.Query{Family: tcptable.IPv4, Port: 8080}, dual, true},
		{"ipv4 and another port", tcptable.Query{Family: tcptable.IPv4, LocalPort: 8081}, dual, false},
		{"ipv6 keeps it too", tcptable.Query{Family: tcptable.IPv6}, dual, true},
		{"ipv4 listeners", tcptable.Query{Family: tcptable.IPv4, Class: tcptable.ClassListeners}, dual, true},
		{"ipv4 connections do not", tcptable.Query{Family: tcptable.IPv4, Class: tcptable.ClassConnections}, dual, false},
		{"ipv4 drops a V6ONLY listener on ::", tcptable.Query{Family: tcptable.IPv4}, v6only, false},
	} {
		assert.Equal(t, tt.want, tt.q.Match(tt.c), tt.name)
		assert.Equal(t, tt.want, len(tt.q.Filter([]tcptable.Connection{tt.c})) == 1, tt.name)
	}
	assert.Equal(t, tcptable.IPv6, dual.Family(), "a dual-stack row is still an IPv6 row")
}

func TestReadFamily(t *testing.T) {
	v4, v6 := tcptable.IPv4, tcptable.IPv6
	for _, tt := range []struct {
		q       tcptable.Query
		want4   bool
		want6   bool
		whyIPv6 string
	}{
		{tcptable.Query{}, true, true, "both families"},
		{tcptable.Query{Family: v6}, false, true, "IPv6 only"},
		{tcptable.Query{Family: v4}, true, true, "dual-stack listeners live in the IPv6 table"},
		{tcptable.Query{Family: v4, Class: tcptable.ClassListeners}, true, true, "dual-stack listeners"},
		{tcptable.Query{Family: v4, States: []tcptable.State{tcptable.StateClosed}}, true, true, "bound dual-stack sockets"},
		{tcptable.Query{Family: v4, Class: tcptable.ClassConnections}, true, true, "CLOSED is a connection-class state"},
		{tcptable.Query{Family: v4, States: []tcptable.State{tcptable.StateEstablished}}, true, false, "a connected socket is never dual stack"},
	} {
		assert.Equal(t, tt.want4, tt.q.ReadFamily(v4), "%+v IPv4", tt.q)
		assert.Equal(t, tt.want6, tt.q.ReadFamily(v6), "%+v IPv6: %s", tt.q, tt.whyIPv6)
	}
}

// TestReadFamilyCoversMatch: whatever a query matches lives in a table
// ReadFamily tells the provider to read, for every class, family and state
// of a plain or dual-stack row (a connected dual-stack row breaks the
// model, but a provider that reads by ReadFamily must still not lose it
// when only its state says it cannot be).
func TestReadFamilyCoversMatch(t *testing.T) {
	rows := []tcptable.Connection{
		row(0, "127.0.0.1:1", "0.0.0.0:0", 1),
		row(0, "[::1]:1", "[::]:0", 1),
		row(0, "[::]:1", "[::]:0", 1),
	}
	rows[2].DualStack = true
	for _, c := range rows {
		for st := tcptable.StateClosed; st <= tcptable.StateDeleteTCB; st++ {
			c.State = st
			if st != tcptable.StateListen && st != tcptable.StateClosed && c.DualStack {
				continue // bound to :: and connected: not a socket the OS makes
			}
			for class := tcptable.ClassAll; class <= tcptable.ClassConnections; class++ {
				for fam := tcptable.AnyFamily; fam <= tcptable.IPv6; fam++ {
					q := tcptable.Query{Class: class, Family: fam}
					if q.Match(c) {
						assert.True(t, q.ReadFamily(c.Family()), "%+v matches %v but ReadFamily(%v) is false", q, c, c.Family())
					}
				}
			}
		}
	}
}
