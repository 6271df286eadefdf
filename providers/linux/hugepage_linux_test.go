package linux

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable/internal/testenv"
)

// vmFlags returns the VmFlags of the mapping of this process that holds p.
func vmFlags(t *testing.T, p uintptr) []string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= p && p < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.Fields(strings.TrimPrefix(line, "VmFlags:"))
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("no mapping holds %#x", p)
	return nil
}

func TestMakeRowsAdvisesHugePages(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		testenv.SkipOrFail(t, "no transparent huge pages in this kernel: %v", err)
	}
	rows := makeRows(200_000)
	require.Len(t, rows, 200_000)
	mid := uintptr(unsafe.Pointer(&rows[len(rows)/2]))
	assert.Contains(t, vmFlags(t, mid), "hg", "a large array is advised (MADV_HUGEPAGE)")
	for i := range rows {
		require.Zero(t, rows[i].Socket)
	}
	small := makeRows(100)
	assert.NotContains(t, vmFlags(t, uintptr(unsafe.Pointer(&small[0]))), "hg", "a small one is not")
}
