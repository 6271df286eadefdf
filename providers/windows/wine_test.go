package windows

import (
	"net/netip"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcptable/tcptable"
)

// The Windows test binary doubles as the Wine side of the Linux tests in
// wine_linux_test.go, which run it under Wine inside a network namespace
// with envWineHelper set to a mode; it then prints one JSON object on
// stdout and exits instead of running tests.
const (
	envWineHelper = "TCPTABLE_WINE_HELPER" // "dump" or "churn"
	envWinePolls  = "TCPTABLE_WINE_POLLS"  // churn: how many polls (default 400)
	envWineFor    = "TCPTABLE_WINE_FOR"    // churn: at most this long (default 2m)
	envWineDups   = "TCPTABLE_WINE_DUPS"   // churn: stop after this many polls with duplicates (default 0: never)
)

// wineDump is what the "dump" mode prints: the provider's table (with
// PIDs) and the raw scope ids of the IPv6 rows with link-local addresses.
type wineDump struct {
	Rows   []tcptable.Connection `json:"rows"`
	Scopes []wineScope           `json:"scopes"`
}

type wineScope struct {
	Local       netip.AddrPort `json:"local"`
	Remote      netip.AddrPort `json:"remote"`
	LocalScope  uint32         `json:"local_scope"`
	RemoteScope uint32         `json:"remote_scope"`
}

// wineChurn is what the "churn" mode prints.
type wineChurn struct {
	Polls          int    `json:"polls"`            // polls made (raw reads and Table calls each)
	RawDupPolls    int    `json:"raw_dup_polls"`    // raw reads whose table listed a socket twice
	RawDups        int    `json:"raw_dups"`         // rows the provider dropped as duplicates
	MaxRows        int    `json:"max_rows"`         // the largest answer
	AnswerDupPolls int    `json:"answer_dup_polls"` // Table answers with two rows of one Key (must be 0)
	FirstAnswerDup string `json:"first_answer_dup"` // the first such Key
}

func TestWineZones(t *testing.T) {
	c := tcptable.Connection{Local: netip.MustParseAddrPort("[fe80::1%8192]:80"), Remote: netip.MustParseAddrPort("[fe80::2%8192]:5000")}
	wineZones(&c)
	assert.Equal(t, "[fe80::1]:80 [fe80::2]:5000", c.Local.String()+" "+c.Remote.String())
	c = tcptable.Connection{Local: netip.MustParseAddrPort("127.0.0.1:80"), Remote: netip.MustParseAddrPort("[::1]:1")}
	wineZones(&c)
	assert.Equal(t, "127.0.0.1:80 [::1]:1", c.Local.String()+" "+c.Remote.String())
}

// envOr returns the environment variable key, or def when it is empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
