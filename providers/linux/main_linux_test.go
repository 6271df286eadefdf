package linux_test

import (
	"context"
	"os"
	"testing"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/providers/linux"
)

// envDump makes the test binary print the provider's table of its own
// namespace as JSON and exit: the unprivileged half of the differential
// test runs it as nobody.
const envDump = "TCPTABLE_LINUX_TEST_DUMP"

func TestMain(m *testing.M) {
	netnstest.RunChildIfRequested()
	runRoleIfRequested()
	switch os.Getenv(envDump) {
	case "":
	case dumpAll:
		os.Exit(dumpAllMain())
	default:
		os.Exit(dumpMain())
	}
	if port := os.Getenv(envKill); port != "" {
		os.Exit(killMain(port))
	}
	if row := os.Getenv(envKillNS); row != "" {
		os.Exit(killNSMain(row))
	}
	os.Exit(m.Run())
}

func dumpMain() int {
	return netnstest.DumpMain(func() (any, error) {
		p, err := linux.New()
		if err != nil {
			return nil, err
		}
		defer p.Close()
		return p.Table(context.Background(), tcptable.Query{})
	})
}
