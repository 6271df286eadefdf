package conformance

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// TestCheckAnswerRules shows that each table-wide rule fires on a row that
// breaks it, and only on that row.
func TestCheckAnswerRules(t *testing.T) {
	ap := netip.MustParseAddrPort
	me := self{pid: 100, exe: "conformance.test", arg0: "link.test"}
	good := tcptable.Connection{
		State: tcptable.StateEstablished, Local: ap("127.0.0.1:40000"), Remote: ap("127.0.0.1:40001"),
		PID: 100, OwnerStatus: tcptable.OwnerOK,
		Module: tcptable.Module{Name: "conformance.tes"}, ModuleStatus: tcptable.OwnerOK,
		StatsStatus: tcptable.StatsNotRequested,
	}
	listener := tcptable.Connection{
		State: tcptable.StateListen, Local: ap("[::1]:40002"), Remote: ap("[::]:0"),
		OwnerStatus: tcptable.OwnerKernel, StatsStatus: tcptable.StatsNotRequested,
	}
	stats := tcptable.Query{Stats: true}
	withStats := func(st *tcptable.Stats, status tcptable.StatsStatus) tcptable.Connection {
		c := good
		c.Stats, c.StatsStatus = st, status
		return c
	}
	edit := func(c tcptable.Connection, f func(c *tcptable.Connection)) tcptable.Connection {
		f(&c)
		return c
	}
	for _, tt := range []struct {
		name string
		q    tcptable.Query
		row  tcptable.Connection
		want string // "" for no problem
	}{
		{"good", tcptable.Query{}, good, ""},
		{"good listener", tcptable.Query{}, listener, ""},
		{"no match", tcptable.Query{Class: tcptable.ClassListeners}, good, "does not match the query {Class=listeners}"},
		{"bad state", tcptable.Query{}, edit(good, func(c *tcptable.Connection) { c.State = 13 }), "twelve MIB_TCP_STATE"},
		{"zero state", tcptable.Query{}, edit(good, func(c *tcptable.Connection) { c.State, c.OSState = 0, 0 }), "twelve MIB_TCP_STATE"},
		{"a state the model does not define", tcptable.Query{}, edit(good, func(c *tcptable.Connection) { c.State, c.OSState = 0, 14 }), ""},
		{"no remote", tcptable.Query{}, edit(good, func(c *tcptable.Connection) { c.Remote = netip.AddrPort{} }), "not a valid address"},
		{"listener remote port", tcptable.Query{}, edit(listener, func(c *tcptable.Connection) { c.Remote = ap("[::]:80") }), "listener's Remote"},
		{"listener remote family", tcptable.Query{}, edit(listener, func(c *tcptable.Connection) { c.Remote = ap("0.0.0.0:0") }), "listener's Remote"},
		{"listener remote address", tcptable.Query{}, edit(listener, func(c *tcptable.Connection) { c.Remote = ap("[::1]:0") }), "listener's Remote"},
		{"dual-stack listener", tcptable.Query{}, edit(listener, func(c *tcptable.Connection) { c.Local, c.DualStack = ap("[::]:40002"), true }), ""},
		{"dual stack on ::1", tcptable.Query{}, edit(listener, func(c *tcptable.Connection) { c.DualStack = true }), "DualStack is set on a row that is not"},
		{"dual stack on IPv4", tcptable.Query{}, edit(good, func(c *tcptable.Connection) { c.DualStack = true }), "DualStack is set on a row that is not"},
		{"pid without ok", tcptable.Query{}, edit(good, func(c *tcptable.Connection) { c.OwnerStatus = tcptable.OwnerUnknown }), "PID is set but"},
		{"ok without pid", tcptable.Query{}, edit(listener, func(c *tcptable.Connection) { c.OwnerStatus = tcptable.OwnerOK }), "PID is 0 but"},
		{"other pids unsorted", tcptable.Query{}, edit(good, func(c *tcptable.Connection) { c.OtherPIDs = []uint32{5, 3} }), "OtherPIDs"},
		{"other pids repeat", tcptable.Query{}, edit(good, func(c *tcptable.Connection) { c.OtherPIDs = []uint32{100} }), "OtherPIDs"},
		{"pid not asked", tcptable.Query{Owners: tcptable.OwnerNone}, edit(good, func(c *tcptable.Connection) {
			c.Module, c.ModuleStatus = tcptable.Module{}, tcptable.OwnerNotRequested
		}), "asked for no owners"},
		{"module not asked", tcptable.Query{Owners: tcptable.OwnerPIDs}, good, "asked for no modules"},
		{"own row without module", tcptable.Query{}, edit(good, func(c *tcptable.Connection) { c.Module.Name = "" }), "no Module.Name"},
		{"own row module status", tcptable.Query{}, edit(good, func(c *tcptable.Connection) { c.ModuleStatus = tcptable.OwnerNotFound }), "no Module.Name"},
		{"own row other module", tcptable.Query{}, edit(good, func(c *tcptable.Connection) { c.Module.Name = "bash" }), `not this executable ("conformance.test")`},
		{"own row named as started", tcptable.Query{}, edit(good, func(c *tcptable.Connection) { c.Module.Name = "LINK.TEST" }), ""},
		{"other process without module", tcptable.Query{}, edit(good, func(c *tcptable.Connection) { c.PID, c.Module = 7, tcptable.Module{} }), ""},
		{"stats not asked", tcptable.Query{}, withStats(&tcptable.Stats{}, tcptable.StatsNotRequested), "asked for no statistics (Query.Stats false) but the row has Stats"},
		{"stats status not asked", tcptable.Query{}, withStats(nil, tcptable.StatsUnknown), "StatsStatus is unknown, not not-requested"},
		{"stats asked", stats, withStats(&tcptable.Stats{}, tcptable.StatsOK), ""},
		{"stats asked partial", stats, withStats(&tcptable.Stats{Since: time.Unix(1, 0)}, tcptable.StatsPartial), ""},
		{"stats asked, not available", stats, withStats(nil, tcptable.StatsNotAvailable), ""},
		{"stats asked, not supported", stats, withStats(nil, tcptable.StatsNotSupported), ""},
		{"stats asked, no reason", stats, withStats(nil, tcptable.StatsUnknown), "gives no reason"},
		{"stats asked, nil but ok", stats, withStats(nil, tcptable.StatsOK), "gives no reason"},
		{"stats asked, nil not requested", stats, withStats(nil, tcptable.StatsNotRequested), "gives no reason"},
		{"stats with a reason", stats, withStats(&tcptable.Stats{}, tcptable.StatsNotSupported), "the row has Stats but StatsStatus is not-supported"},
		{"partial without since", stats, withStats(&tcptable.Stats{}, tcptable.StatsPartial), "Since must be set exactly"},
		{"ok with since", stats, withStats(&tcptable.Stats{Since: time.Unix(1, 0)}, tcptable.StatsOK), "Since must be set exactly"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := checkAnswer(tt.q, []tcptable.Connection{tt.row}, me, &config{})
			if tt.want == "" {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1, "exactly one rule fires: %v", got)
			assert.Contains(t, got[0], tt.want)
		})
	}
}

func TestCheckAnswerDuplicates(t *testing.T) {
	c := tcptable.Connection{
		State: tcptable.StateTimeWait, Local: netip.MustParseAddrPort("127.0.0.1:40000"),
		Remote: netip.MustParseAddrPort("127.0.0.1:40001"), OwnerStatus: tcptable.OwnerKernel,
		StatsStatus: tcptable.StatsNotRequested,
	}
	got := checkAnswer(tcptable.Query{}, []tcptable.Connection{c, c, c}, self{}, &config{})
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "duplicate Key in one answer (2 rows)")
}

func TestCheckAnswerCapsExamples(t *testing.T) {
	rows := make([]tcptable.Connection, 50)
	for i := range rows {
		rows[i] = tcptable.Connection{State: 0, Local: netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(1000+i)),
			Remote: netip.AddrPortFrom(netip.IPv4Unspecified(), 0), OwnerStatus: tcptable.OwnerKernel, StatsStatus: tcptable.StatsNotRequested}
	}
	got := checkAnswer(tcptable.Query{}, rows, self{}, &config{})
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "(50 rows)")
	assert.Equal(t, maxExamples, strings.Count(got[0], "{"))
}

func TestGapsRelaxModules(t *testing.T) {
	row := tcptable.Connection{
		State: tcptable.StateListen, Local: netip.MustParseAddrPort("127.0.0.1:40000"),
		Remote: netip.MustParseAddrPort("0.0.0.0:0"), PID: 100, OwnerStatus: tcptable.OwnerOK,
		StatsStatus: tcptable.StatsNotRequested,
	}
	me := self{pid: 100, exe: "x.test"}
	assert.Len(t, checkAnswer(tcptable.Query{}, []tcptable.Connection{row}, me, &config{}), 1)
	cfg, err := newConfig([]Option{DeclareGap(NoModule, "test")})
	require.NoError(t, err)
	assert.Empty(t, checkAnswer(tcptable.Query{}, []tcptable.Connection{row}, me, cfg))
}

func TestNewConfig(t *testing.T) {
	t.Setenv(TimeoutEnv, "")
	cfg, err := newConfig(nil)
	require.NoError(t, err)
	assert.Equal(t, defaultTimeout, cfg.timeout)
	assert.Equal(t, 10*defaultTimeout, cfg.watchdog())

	cfg, err = newConfig([]Option{DeclareGap(NoModule, "b"), DeclareGap(NoListenerPID, "a"), WithTimeout(1)})
	require.NoError(t, err)
	assert.Equal(t, []Gap{NoListenerPID, NoModule}, cfg.gapList())
	assert.True(t, cfg.has(NoModule))
	assert.False(t, cfg.has(NoDialerPID))

	t.Setenv(TimeoutEnv, "1m")
	cfg, err = newConfig(nil)
	require.NoError(t, err)
	assert.Equal(t, time.Minute, cfg.timeout, "the environment replaces the default")
	cfg, err = newConfig([]Option{WithTimeout(time.Second)})
	require.NoError(t, err)
	assert.Equal(t, time.Second, cfg.timeout, "WithTimeout wins")
	t.Setenv(TimeoutEnv, "soon")
	_, err = newConfig(nil)
	require.ErrorContains(t, err, `TCPTABLE_CONFORMANCE_TIMEOUT="soon"`)
	t.Setenv(TimeoutEnv, "")

	for _, tt := range []struct {
		opt  Option
		want string
	}{
		{DeclareGap(NoModule, " "), "DeclareGap(no-module): the reason must not be empty"},
		{DeclareGap(Gap(99), "why"), "DeclareGap(Gap(99)): not a known gap"},
		{DeclareGap(Gap(0), "why"), "DeclareGap(Gap(0)): not a known gap"},
		{WithTimeout(0), "WithTimeout(0s)"},
	} {
		_, err := newConfig([]Option{tt.opt})
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
	}
}
