package windows

import (
	"os"
	"testing"

	"github.com/tcptable/tcptable/internal/netnstest"
)

// TestMain lets the test binary serve as the socket-holding child of
// TestWineDifferential.
func TestMain(m *testing.M) {
	netnstest.RunChildIfRequested()
	os.Exit(m.Run())
}
