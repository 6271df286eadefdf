package windows

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/linux"
)

// envWineDLL names the stand-in bcryptprimitives.dll that
// scripts/wine-test.sh builds; without it the differential test skips.
const envWineDLL = "TCPTABLE_WINE_DLL"

// TestWineDifferential runs the Windows provider under Wine inside a fresh
// network namespace holding listeners, established, half-closed and
// TIME-WAIT sockets on 127.0.0.1 and ::1, and checks that it reports
// exactly the (state, local, remote) rows the Linux provider reads from the
// kernel for that namespace. Wine's table comes from the same kernel, so
// any difference is a decoding bug on one side.
func TestWineDifferential(t *testing.T) {
	testenv.SkipOrFailIf(t, netnstest.Available(), "network namespaces")
	dll := os.Getenv(envWineDLL)
	if dll == "" {
		// Not a missing requirement: scripts/wine-test.sh runs this test
		// (and fails where Wine is missing) once it has built the DLL.
		t.Skip(envWineDLL + " is not set: run scripts/wine-test.sh, which builds the DLL and runs this test")
	}
	wine, wineserver := envOr("WINE", "/usr/lib/wine/wine64"), envOr("WINESERVER", "/usr/lib/wine/wineserver")
	for _, f := range []string{dll, wine, wineserver} {
		if _, err := os.Stat(f); err != nil {
			testenv.SkipOrFail(t, "%v (install wine64 and run scripts/wine-test.sh)", err)
		}
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "windump.exe")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", exe, "./internal/windump")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building windump.exe: %s", out)

	ns, err := netnstest.NewNS(fmt.Sprintf("tcptable-wine-%d", os.Getpid()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = ns.Close() })
	self, err := os.Executable()
	require.NoError(t, err)
	spec := netnstest.Spec{Listeners: 4, Established: 6, HalfClosed: 2, TimeWait: 2}
	child, err := netnstest.Start(ns, self, spec, false, 30*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = child.Close() })

	// A prefix of its own, booted inside the namespace, so that wineserver
	// and the winedevice.exe that reads the table live there too.
	wineEnv := append(os.Environ(), "WINEPREFIX="+filepath.Join(dir, "prefix"), "WINEDEBUG=-all",
		"WINEARCH=win64", "WINEDLLOVERRIDES=mscoree=;mshtml=;winemenubuilder.exe=d", "DISPLAY=")
	inNS := func(name string, args ...string) *exec.Cmd {
		cmd := ns.Exec(name, args...)
		cmd.Env = wineEnv
		return cmd
	}
	t.Cleanup(func() { _ = inNS(wineserver, "-k").Run() })
	out, err = inNS(wine, "wineboot", "-i").CombinedOutput()
	require.NoError(t, err, "wineboot: %s", out)
	require.NoError(t, inNS(wineserver, "-w").Run())
	require.NoError(t, copyFile(dll, filepath.Join(dir, "prefix/drive_c/windows/system32/bcryptprimitives.dll")))

	lp, err := linux.New(linux.WithNetNS(ns.Path))
	require.NoError(t, err)
	defer lp.Close()
	linuxRows := func() []string {
		rows, err := lp.Table(context.Background(), tcptable.Query{Owners: tcptable.OwnerNone})
		require.NoError(t, err)
		return rowSet(rows)
	}

	before := linuxRows()
	var stdout, stderr bytes.Buffer
	dump := inNS(wine, exe)
	dump.Stdout, dump.Stderr = &stdout, &stderr
	require.NoError(t, dump.Run(), "windump.exe under Wine: %s", stderr.String())
	after := linuxRows()
	require.Equal(t, before, after, "the namespace's table changed while Wine read it")

	var wineConns []tcptable.Connection
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &wineConns), "windump output: %s", stdout.String())
	got := rowSet(wineConns)
	require.GreaterOrEqual(t, len(after), spec.Sockets(), "the Linux provider misses the child's sockets")
	require.Equal(t, after, got, "Wine (got) and Linux (want) disagree")
	t.Logf("Wine and Linux agree on all %d rows of namespace %s", len(got), ns.Name)
}

// rowSet returns the sorted "state local remote" of each row.
func rowSet(rows []tcptable.Connection) []string {
	out := make([]string, len(rows))
	for i, c := range rows {
		out[i] = fmt.Sprintf("%v %v %v", c.State, c.Local, c.Remote)
	}
	slices.Sort(out)
	return out
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
