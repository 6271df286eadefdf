// Package windows is the tcptable provider for Windows: it reads the TCP
// table with iphlpapi!GetExtendedTcpTable (the TCP_TABLE_OWNER_MODULE_*
// classes, AF_INET and AF_INET6) and resolves owning modules with
// GetOwnerModuleFromTcpEntry / GetOwnerModuleFromTcp6Entry, falling back to
// the owning process' image (QueryFullProcessImageNameW) where that API is
// missing or fails.
//
// The decoding of the raw MIB_TCPTABLE_OWNER_MODULE and
// MIB_TCP6TABLE_OWNER_MODULE buffers, ParseTable and AppendTable, is pure Go
// with no build tag: it builds and is tested on every OS, so a table captured
// on Windows can be decoded anywhere. New works only on Windows; elsewhere it
// returns an error wrapping tcptable.ErrNotSupported.
//
// With Query.Stats the provider fills each connection's Stats from
// GetPerTcp(6)ConnectionEStats, switching collection on the first time it
// sees a connection (Administrator; counting starts then, see
// Stats.Since). Provider implements tcptable.Killer for IPv4 connections
// with SetTcpEntry and MIB_TCP_STATE_DELETE_TCB (Administrator), and
// verifies every kill by reading the table again.
//
// The provider also runs under Wine, with the deviations that docs/windows.md
// lists; scripts/wine-test.sh runs this package's tests there.
package windows
