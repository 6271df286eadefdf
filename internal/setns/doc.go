// Package setns runs a function inside another Linux network namespace on
// a thread of its own, for the Linux provider (WithNetNS, WithAllNetNS) and
// the namespace test helpers (internal/netnstest). Elsewhere it is empty.
package setns
