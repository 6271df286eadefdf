package linux_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/linux"
)

// cgroupMounts returns where the cgroup v2 hierarchy and the v1 pids and
// memory hierarchies are mounted ("" for those that are not).
func cgroupMounts(t *testing.T) (v2, pids, memory string) {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(tail) < 3 {
			continue
		}
		dir := fields[4]
		switch {
		case tail[0] == "cgroup2" && v2 == "":
			v2 = dir
		case tail[0] == "cgroup" && slices.Contains(strings.Split(tail[2], ","), "pids") && pids == "":
			pids = dir
		case tail[0] == "cgroup" && slices.Contains(strings.Split(tail[2], ","), "memory") && memory == "":
			memory = dir
		}
	}
	require.NoError(t, sc.Err())
	return v2, pids, memory
}

// IDs as the runtimes make them.
const (
	idDocker   = "1111111111111111111111111111111111111111111111111111111111111111"
	idCtrd     = "2222222222222222222222222222222222222222222222222222222222222222"
	idPodman   = "3333333333333333333333333333333333333333333333333333333333333333"
	idCRIO     = "4444444444444444444444444444444444444444444444444444444444444444"
	idConmon   = "5555555555555555555555555555555555555555555555555555555555555555"
	idDockerV1 = "6666666666666666666666666666666666666666666666666666666666666666"
	idK8sV1    = "7777777777777777777777777777777777777777777777777777777777777777"
	podBurst   = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	podBest    = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
	podGuar    = "cccccccc-dddd-4eee-8fff-000000000000"
	podV1      = "dddddddd-eeee-4fff-8000-111111111111"
)

// underscored writes a pod UID as systemd slice names do.
func underscored(uid string) string { return strings.ReplaceAll(uid, "-", "_") }

// TestContainers moves socket-holding processes into cgroups named as
// docker, containerd, CRI-O, podman and Kubernetes name them, in the v2
// hierarchy and in v1 ones, and checks the Container of their rows.
func TestContainers(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	v2, pids, memory := cgroupMounts(t)
	if v2 == "" || pids == "" || memory == "" {
		testenv.SkipOrFail(t, "needs the cgroup v2 hierarchy and the v1 pids and memory ones mounted (found %q, %q, %q)", v2, pids, memory)
	}
	ns := newTestNS(t, "cg")
	top := fmt.Sprintf("tcptable-test-%d", os.Getpid())
	layouts := []struct {
		name, mount, path, want string
	}{
		{"docker systemd", v2, "system.slice/docker-" + idDocker + ".scope", idDocker},
		{"containerd k8s systemd", v2, "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + underscored(podBurst) + ".slice/cri-containerd-" + idCtrd + ".scope", idCtrd},
		{"podman systemd", v2, "machine.slice/libpod-" + idPodman + ".scope/container", idPodman},
		{"cri-o systemd", v2, "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + underscored(podBest) + ".slice/crio-" + idCRIO + ".scope", idCRIO},
		{"k8s pod only", v2, "kubepods.slice/kubepods-pod" + underscored(podGuar) + ".slice", "pod" + podGuar},
		{"podman conmon (not a container)", v2, "machine.slice/libpod-conmon-" + idConmon + ".scope", ""},
		{"docker cgroupfs v1", pids, "docker/" + idDockerV1, idDockerV1},
		{"k8s cgroupfs v1", memory, "kubepods/burstable/pod" + podV1 + "/" + idK8sV1, idK8sV1},
		{"none", "", "", ""},
	}
	// Removed last (cleanups run in reverse): after the children exit.
	t.Cleanup(func() {
		for _, mount := range []string{v2, pids, memory} {
			removeCgroups(t, filepath.Join(mount, top))
		}
	})
	want := map[uint32]string{}
	for _, l := range layouts {
		c := startChild(t, ns, exe, netnstest.Spec{Listeners: 1, Established: 1})
		want[uint32(c.PID)] = l.want
		if l.mount == "" {
			continue
		}
		dir := filepath.Join(l.mount, top, l.path)
		require.NoError(t, os.MkdirAll(dir, 0o755), l.name)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(fmt.Sprint(c.PID)), 0o644), l.name)
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.PID))
		require.NoError(t, err)
		require.Contains(t, string(b), "/"+top+"/"+l.path+"\n", "%s: the child moved", l.name)
	}

	for _, opts := range [][]linux.Option{{linux.WithAllNetNS()}, {linux.WithNetNS(ns.Path)}} {
		p := newScanOrSkip(t, linux.OwnerScanProcfs, opts...)
		rows, err := p.Table(context.Background(), tcptable.Query{})
		require.NoError(t, err)
		found := map[uint32]int{}
		for _, c := range rows {
			if w, ok := want[c.PID]; ok {
				found[c.PID]++
				assert.Equal(t, w, c.Container, "pid %d: %v", c.PID, c)
			}
		}
		assert.Len(t, found, len(want), "every child's rows are in the table")

		rows, err = p.Table(context.Background(), tcptable.Query{Owners: tcptable.OwnerPIDs})
		require.NoError(t, err)
		for _, c := range rows {
			assert.Empty(t, c.Container, "resolved with modules only: %v", c)
		}
	}
}

// removeCgroups removes a cgroup tree, deepest first, retrying while the
// kernel finishes the exits of its last processes.
func removeCgroups(t *testing.T, root string) {
	var dirs []string
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	slices.Reverse(dirs)
	for _, d := range dirs {
		var err error
		for range 50 {
			if err = os.Remove(d); err == nil || os.IsNotExist(err) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		assert.NoError(t, err, "remove cgroup %s", d)
	}
}
