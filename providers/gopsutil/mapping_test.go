package gopsutil

import (
	"net/netip"
	"testing"

	"github.com/shirou/gopsutil/v4/net"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// mustDialect returns goos's dialect or fails the test.
func mustDialect(t testing.TB, goos string) dialect {
	t.Helper()
	d, ok := dialectFor(goos)
	require.True(t, ok, "no dialect for %s", goos)
	return d
}

// TestStateSpellings checks, OS by OS, every state string gopsutil v4.26.10
// emits there (copied from its sources, not from our tables) against the
// State and OS code it must map to.
func TestStateSpellings(t *testing.T) {
	type want struct {
		state tcptable.State
		code  uint32
	}
	bsd := map[string]want{ // lsof (darwin, freebsd) and netstat (openbsd, netbsd, aix)
		"CLOSED":      {tcptable.StateClosed, 0},
		"LISTEN":      {tcptable.StateListen, 1},
		"SYN_SENT":    {tcptable.StateSynSent, 2},
		"SYN_RCVD":    {tcptable.StateSynReceived, 3},
		"ESTABLISHED": {tcptable.StateEstablished, 4},
		"CLOSE_WAIT":  {tcptable.StateCloseWait, 5},
		"FIN_WAIT_1":  {tcptable.StateFinWait1, 6},
		"CLOSING":     {tcptable.StateClosing, 7},
		"LAST_ACK":    {tcptable.StateLastAck, 8},
		"FIN_WAIT_2":  {tcptable.StateFinWait2, 9},
		"TIME_WAIT":   {tcptable.StateTimeWait, 10},
	}
	spellings := map[string]map[string]want{
		"linux": { // net_linux.go tcpStatuses over /proc/net/tcp
			"ESTABLISHED": {tcptable.StateEstablished, 1},
			"SYN_SENT":    {tcptable.StateSynSent, 2},
			"SYN_RECV":    {tcptable.StateSynReceived, 3},
			"FIN_WAIT1":   {tcptable.StateFinWait1, 4},
			"FIN_WAIT2":   {tcptable.StateFinWait2, 5},
			"TIME_WAIT":   {tcptable.StateTimeWait, 6},
			"CLOSE":       {tcptable.StateClosed, 7},
			"CLOSE_WAIT":  {tcptable.StateCloseWait, 8},
			"LAST_ACK":    {tcptable.StateLastAck, 9},
			"LISTEN":      {tcptable.StateListen, 10},
			"CLOSING":     {tcptable.StateClosing, 11},
		},
		"windows": { // net_windows.go tcpStatuses over MIB_TCP_STATE
			"CLOSED":       {tcptable.StateClosed, 1},
			"LISTEN":       {tcptable.StateListen, 2},
			"SYN_SENT":     {tcptable.StateSynSent, 3},
			"SYN_RECEIVED": {tcptable.StateSynReceived, 4},
			"ESTABLISHED":  {tcptable.StateEstablished, 5},
			"FIN_WAIT_1":   {tcptable.StateFinWait1, 6},
			"FIN_WAIT_2":   {tcptable.StateFinWait2, 7},
			"CLOSE_WAIT":   {tcptable.StateCloseWait, 8},
			"CLOSING":      {tcptable.StateClosing, 9},
			"LAST_ACK":     {tcptable.StateLastAck, 10},
			"TIME_WAIT":    {tcptable.StateTimeWait, 11},
			"DELETE":       {tcptable.StateDeleteTCB, 12},
		},
		"darwin": bsd, "freebsd": bsd, "openbsd": bsd, "netbsd": bsd, "aix": bsd,
	}
	require.ElementsMatch(t, supportedOSes(), keys(spellings), "every dialect has its spellings under test")
	for goos, states := range spellings {
		d := mustDialect(t, goos)
		assert.Len(t, d.states, len(states), "%s: dialect lists exactly gopsutil's spellings", goos)
		for status, w := range states {
			cs := net.ConnectionStat{Family: d.afInet, Status: status,
				Laddr: net.Addr{IP: "10.1.2.3", Port: 4660}, Raddr: net.Addr{IP: "10.3.2.1", Port: 22136}}
			c, err := convert(&cs, &d)
			require.NoError(t, err, "%s %q", goos, status)
			assert.Equal(t, w.state, c.State, "%s %q", goos, status)
			assert.Equal(t, w.code, c.OSState, "%s %q: OS code", goos, status)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestStateUnknown: gopsutil emits "" for a code its table lacks (Linux,
// Windows) and lsof prints UNKNOWN_TCP_STATE_n; both are errors quoting the
// row, never a guessed state.
func TestStateUnknown(t *testing.T) {
	for _, status := range []string{"", "UNKNOWN_TCP_STATE_13", "NONE", "BOUND"} {
		d := mustDialect(t, "darwin")
		cs := net.ConnectionStat{Family: d.afInet, Status: status, Laddr: net.Addr{IP: "127.0.0.1", Port: 1}}
		_, err := convert(&cs, &d)
		require.Error(t, err, "%q", status)
		assert.ErrorIs(t, err, tcptable.ErrInvalid)
		assert.ErrorIs(t, err, tcptable.ErrInvalidState)
		assert.Contains(t, err.Error(), `"status":"`+status+`"`, "the error quotes the row")
	}
}

// TestAddresses covers the address spellings of every OS's source.
func TestAddresses(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name, goos     string
		v6             bool
		status         string
		laddr, raddr   net.Addr
		local, remote  netip.AddrPort
		wantFamily     tcptable.Family
		wantErrContain string
	}{
		{name: "linux v4 listener", goos: "linux", status: "LISTEN",
			laddr: net.Addr{IP: "0.0.0.0", Port: 4660}, raddr: net.Addr{IP: "0.0.0.0"},
			local: ap("0.0.0.0:4660"), remote: ap("0.0.0.0:0"), wantFamily: tcptable.IPv4},
		{name: "linux v6 listener", goos: "linux", v6: true, status: "LISTEN",
			laddr: net.Addr{IP: "::", Port: 4660}, raddr: net.Addr{IP: "::"},
			local: ap("[::]:4660"), remote: ap("[::]:0"), wantFamily: tcptable.IPv6},
		{name: "linux mapped v4 in tcp6 stays IPv6", goos: "linux", v6: true, status: "ESTABLISHED",
			// net.IP.String prints ::ffff:127.0.0.1 as 127.0.0.1.
			laddr: net.Addr{IP: "127.0.0.1", Port: 4660}, raddr: net.Addr{IP: "127.0.0.1", Port: 22136},
			local: ap("[::ffff:127.0.0.1]:4660"), remote: ap("[::ffff:127.0.0.1]:22136"), wantFamily: tcptable.IPv6},
		{name: "windows v6 established", goos: "windows", v6: true, status: "ESTABLISHED",
			laddr: net.Addr{IP: "::1", Port: 4660}, raddr: net.Addr{IP: "::1", Port: 22136},
			local: ap("[::1]:4660"), remote: ap("[::1]:22136"), wantFamily: tcptable.IPv6},
		{name: "windows listener remote forced unspecified", goos: "windows", status: "LISTEN",
			laddr: net.Addr{IP: "127.0.0.1", Port: 4660}, raddr: net.Addr{IP: "0.0.0.0", Port: 4097},
			local: ap("127.0.0.1:4660"), remote: ap("0.0.0.0:0"), wantFamily: tcptable.IPv4},
		{name: "darwin lsof wildcard v4", goos: "darwin", status: "LISTEN",
			laddr: net.Addr{IP: "*", Port: 4660},
			local: ap("0.0.0.0:4660"), remote: ap("0.0.0.0:0"), wantFamily: tcptable.IPv4},
		{name: "darwin lsof wildcard v6", goos: "darwin", v6: true, status: "LISTEN",
			laddr: net.Addr{IP: "*", Port: 4660},
			local: ap("[::]:4660"), remote: ap("[::]:0"), wantFamily: tcptable.IPv6},
		{name: "darwin lsof bracketed with zone", goos: "darwin", v6: true, status: "ESTABLISHED",
			laddr: net.Addr{IP: "[fe80::1%lo0]", Port: 4660}, raddr: net.Addr{IP: "[fe80::2%lo0]", Port: 22136},
			local: ap("[fe80::1%lo0]:4660"), remote: ap("[fe80::2%lo0]:22136"), wantFamily: tcptable.IPv6},
		{name: "freebsd lsof mapped", goos: "freebsd", v6: true, status: "ESTABLISHED",
			laddr: net.Addr{IP: "::ffff:127.0.0.1", Port: 4660}, raddr: net.Addr{IP: "::ffff:127.0.0.1", Port: 22136},
			local: ap("[::ffff:127.0.0.1]:4660"), remote: ap("[::ffff:127.0.0.1]:22136"), wantFamily: tcptable.IPv6},
		{name: "openbsd netstat closed bound socket without remote", goos: "openbsd", status: "CLOSED",
			laddr: net.Addr{IP: "127.0.0.1", Port: 4660},
			local: ap("127.0.0.1:4660"), remote: ap("0.0.0.0:0"), wantFamily: tcptable.IPv4},
		{name: "netbsd netstat v6 time-wait", goos: "netbsd", v6: true, status: "TIME_WAIT",
			laddr: net.Addr{IP: "::1", Port: 4660}, raddr: net.Addr{IP: "::1", Port: 22136},
			local: ap("[::1]:4660"), remote: ap("[::1]:22136"), wantFamily: tcptable.IPv6},
		{name: "aix dual-stack tcp row with IPv6 text stays IPv6", goos: "aix", status: "ESTABLISHED",
			laddr: net.Addr{IP: "2001:db8::1", Port: 4660}, raddr: net.Addr{IP: "2001:db8::2", Port: 22136},
			local: ap("[2001:db8::1]:4660"), remote: ap("[2001:db8::2]:22136"), wantFamily: tcptable.IPv6},
		{name: "aix mapped text in AF_INET row unmapped", goos: "aix", status: "ESTABLISHED",
			laddr: net.Addr{IP: "::ffff:10.0.0.1", Port: 4660}, raddr: net.Addr{IP: "10.0.0.2", Port: 22136},
			local: ap("10.0.0.1:4660"), remote: ap("10.0.0.2:22136"), wantFamily: tcptable.IPv4},
		{name: "port out of range", goos: "linux", status: "ESTABLISHED",
			laddr: net.Addr{IP: "127.0.0.1", Port: 70000}, wantErrContain: "port 70000 out of range"},
		{name: "hostname instead of IP", goos: "darwin", status: "ESTABLISHED",
			laddr: net.Addr{IP: "127.0.0.1", Port: 4660}, raddr: net.Addr{IP: "localhost", Port: 80},
			wantErrContain: `remote address: IP "localhost"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDialect(t, tt.goos)
			fam := d.afInet
			if tt.v6 {
				fam = d.afInet6
			}
			cs := net.ConnectionStat{Family: fam, Status: tt.status, Laddr: tt.laddr, Raddr: tt.raddr, Pid: 42}
			c, err := convert(&cs, &d)
			if tt.wantErrContain != "" {
				require.ErrorIs(t, err, tcptable.ErrInvalid)
				assert.Contains(t, err.Error(), tt.wantErrContain)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.local, c.Local)
			assert.Equal(t, tt.remote, c.Remote)
			assert.Equal(t, tt.wantFamily, c.Family())
			assert.Equal(t, uint32(42), c.PID)
		})
	}
}

// TestFamilyNumbers: each OS's AF_INET6 is recognized, another OS's is not.
func TestFamilyNumbers(t *testing.T) {
	want := map[string]uint32{"linux": 10, "windows": 23, "darwin": 30, "freebsd": 28, "openbsd": 24, "netbsd": 24, "aix": 24}
	for goos, af6 := range want {
		d := mustDialect(t, goos)
		cs := net.ConnectionStat{Family: af6, Status: "LISTEN", Laddr: net.Addr{IP: "::1", Port: 4660}}
		c, err := convert(&cs, &d)
		require.NoError(t, err, goos)
		assert.Equal(t, tcptable.IPv6, c.Family(), goos)
	}
	d := mustDialect(t, "linux")
	cs := net.ConnectionStat{Family: 30, Status: "LISTEN", Laddr: net.Addr{IP: "::1", Port: 4660}}
	_, err := convert(&cs, &d)
	require.ErrorIs(t, err, tcptable.ErrInvalid)
	assert.Contains(t, err.Error(), "address family 30")
}

func TestOwnerFieldsMapped(t *testing.T) {
	d := mustDialect(t, "linux")
	cs := net.ConnectionStat{Family: 2, Status: "ESTABLISHED", Pid: 1234, Uids: []int32{1000, 1001, 1000, 1000},
		Laddr: net.Addr{IP: "127.0.0.1", Port: 4660}, Raddr: net.Addr{IP: "127.0.0.1", Port: 22136}}
	c, err := convert(&cs, &d)
	require.NoError(t, err)
	assert.Equal(t, uint32(1234), c.PID)
	assert.True(t, c.HasUID)
	assert.Equal(t, uint32(1001), c.UID, "the effective UID")

	cs.Uids, cs.Pid = []int32{7}, -1
	_, err = convert(&cs, &d)
	require.ErrorIs(t, err, tcptable.ErrInvalid, "negative PID")

	cs.Pid = 0
	c, err = convert(&cs, &d)
	require.NoError(t, err)
	assert.Equal(t, uint32(7), c.UID, "a lone UID is used")
	cs.Uids = nil
	c, err = convert(&cs, &d)
	require.NoError(t, err)
	assert.False(t, c.HasUID)
}

func TestOwnerlessStatus(t *testing.T) {
	linux, openbsd := mustDialect(t, "linux"), mustDialect(t, "openbsd")
	tests := []struct {
		d          *dialect
		st         tcptable.State
		privileged bool
		want       tcptable.OwnerStatus
	}{
		{&openbsd, tcptable.StateEstablished, true, tcptable.OwnerNotSupported},
		{&openbsd, tcptable.StateTimeWait, true, tcptable.OwnerNotSupported},
		{&linux, tcptable.StateTimeWait, false, tcptable.OwnerKernel},
		{&linux, tcptable.StateSynReceived, true, tcptable.OwnerKernel},
		{&linux, tcptable.StateEstablished, false, tcptable.OwnerPermissionDenied},
		{&linux, tcptable.StateFinWait2, false, tcptable.OwnerPermissionDenied},
		{&linux, tcptable.StateFinWait2, true, tcptable.OwnerKernel},
		{&linux, tcptable.StateLastAck, true, tcptable.OwnerKernel},
		{&linux, tcptable.StateEstablished, true, tcptable.OwnerNotFound},
		{&linux, tcptable.StateListen, true, tcptable.OwnerNotFound},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ownerlessStatus(tt.st, tt.d, tt.privileged), "%s %v privileged=%v", tt.d.goos, tt.st, tt.privileged)
	}
}

func TestMergeOwners(t *testing.T) {
	ap := netip.MustParseAddrPort
	lst := func(pid uint32) tcptable.Connection {
		return tcptable.Connection{State: tcptable.StateListen, Local: ap("0.0.0.0:4660"), Remote: ap("0.0.0.0:0"), PID: pid}
	}
	est := tcptable.Connection{State: tcptable.StateEstablished, Local: ap("127.0.0.1:4660"), Remote: ap("127.0.0.1:22136"), PID: 9}
	// lsof: a listener held by a forked server (PIDs 30, 10, 20, 10 again
	// through a dup'ed descriptor) and one unrelated connection.
	in := []tcptable.Connection{lst(30), est, lst(10), lst(20), lst(10), lst(0)}
	out := mergeOwners(in)
	require.Len(t, out, 2)
	assert.Equal(t, uint32(10), out[0].PID)
	assert.Equal(t, []uint32{20, 30}, out[0].OtherPIDs)
	assert.Equal(t, est, out[1])

	// A kernel row first, then an owner: the owner wins.
	out = mergeOwners([]tcptable.Connection{lst(0), lst(5)})
	require.Len(t, out, 1)
	assert.Equal(t, uint32(5), out[0].PID)
	assert.Empty(t, out[0].OtherPIDs)

	// Different states of one address are different sockets.
	closed := lst(10)
	closed.State = tcptable.StateClosed
	assert.Len(t, mergeOwners([]tcptable.Connection{lst(10), closed}), 2)
}
