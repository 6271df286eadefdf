//go:build unix

package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable/providers/mock"
)

// serveChildEnv makes TestServeChild run `tcptable serve` as main does.
const serveChildEnv = "TCPTABLE_TEST_SERVE_CHILD"

// TestServeChild is not a test of its own: when TestServeSignals re-runs
// the test binary with serveChildEnv set, it serves the mock's table,
// stopping on SIGINT or SIGTERM as main does, and exits with serve's
// status.
func TestServeChild(t *testing.T) {
	if os.Getenv(serveChildEnv) == "" {
		t.Skip("runs only as TestServeSignals' child")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, _, _ := testApp(mock.New(linuxRows()...))
	a.stdout, a.stderr = os.Stdout, os.Stderr
	os.Exit(a.run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}))
}

// TestServeSignals: serve ends with status 0 on SIGTERM and on SIGINT.
func TestServeSignals(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestServeChild$")
			cmd.Env = append(os.Environ(), serveChildEnv+"=1")
			stderr, err := cmd.StderrPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			defer cmd.Process.Kill()
			line := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
						line <- m[1]
					}
				}
			}()
			var url string
			select {
			case url = <-line:
			case <-time.After(30 * time.Second):
				t.Fatal("the child did not say where it serves")
			}
			resp, err := http.Get(url + "/metrics")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			require.NoError(t, cmd.Process.Signal(sig))
			assert.NoError(t, cmd.Wait(), "serve must exit 0 on %v", sig)
		})
	}
}
