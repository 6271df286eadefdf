package cgroup

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Container IDs and pod UIDs of the examples.
const (
	cid   = "3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19"
	cid2  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	uid   = "7b6c5d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e"
	uidU  = "7b6c5d1e_2f3a_4b5c_8d9e_0f1a2b3c4d5e" // as systemd slices write it
	suid  = "3f7c6e1a6b4b7d0d5e8e4d4f4e5f6a7b"     // a static pod's UID
	noOne = ""
)

// realPaths are cgroup paths as runtimes create them (from their sources
// and from hosts running them), with what Connection.Container must say.
var realPaths = []struct {
	name, path string
	want       Owner
}{
	// docker
	{"docker cgroupfs (v1, v2)", "/docker/" + cid, Owner{Container: cid}},
	{"docker systemd", "/system.slice/docker-" + cid + ".scope", Owner{Container: cid}},
	{"docker in docker", "/docker/" + cid2 + "/docker/" + cid, Owner{Container: cid}},
	{"docker rootless", "/user.slice/user-1000.slice/user@1000.service/user.slice/docker-" + cid + ".scope", Owner{Container: cid}},
	{"docker daemon itself", "/system.slice/docker.service", Owner{}},
	{"docker cgroupns, seen from inside", "/", Owner{}},
	{"docker cgroupns, seen from a sibling", "/../" + cid, Owner{Container: cid}},
	// containerd
	{"containerd k8s systemd", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope", Owner{Container: cid, PodUID: uid}},
	{"containerd k8s cgroupfs", "/kubepods/burstable/pod" + uid + "/" + cid, Owner{Container: cid, PodUID: uid}},
	{"containerd k8s guaranteed cgroupfs", "/kubepods/pod" + uid + "/" + cid, Owner{Container: cid, PodUID: uid}},
	{"containerd k8s guaranteed systemd", "/kubepods.slice/kubepods-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope", Owner{Container: cid, PodUID: uid}},
	{"containerd nerdctl cgroupfs", "/default/" + cid, Owner{Container: cid}},
	{"containerd nerdctl systemd", "/system.slice/nerdctl-" + cid + ".scope", Owner{Container: cid}},
	{"containerd daemon", "/system.slice/containerd.service", Owner{}},
	// CRI-O
	{"cri-o systemd", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/crio-" + cid + ".scope", Owner{Container: cid, PodUID: uid}},
	{"cri-o cgroupfs", "/kubepods/besteffort/pod" + uid + "/crio-" + cid, Owner{Container: cid, PodUID: uid}},
	{"cri-o conmon", "/system.slice/crio-conmon-" + cid + ".scope", Owner{}},
	{"cri-o conmon in the pod slice", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/crio-conmon-" + cid + ".scope", Owner{PodUID: uid}},
	// podman
	{"podman systemd", "/machine.slice/libpod-" + cid + ".scope", Owner{Container: cid}},
	{"podman systemd, container child", "/machine.slice/libpod-" + cid + ".scope/container", Owner{Container: cid}},
	{"podman cgroupfs", "/libpod_parent/libpod-" + cid, Owner{Container: cid}},
	{"podman rootless", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + cid + ".scope", Owner{Container: cid}},
	{"podman conmon", "/machine.slice/libpod-conmon-" + cid + ".scope", Owner{}},
	// Kubernetes pods without a container segment
	{"pod slice only (systemd)", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice", Owner{PodUID: uid}},
	{"pod directory only (cgroupfs)", "/kubepods/burstable/pod" + uid, Owner{PodUID: uid}},
	{"static pod", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + suid + ".slice/cri-containerd-" + cid + ".scope", Owner{Container: cid, PodUID: suid}},
	{"kind: kubelet-prefixed slices in a docker node", "/docker/" + cid2 + "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope", Owner{Container: cid, PodUID: uid}},
	{"kind: a pod's own cgroup in a docker node", "/docker/" + cid2 + "/kubepods/besteffort/pod" + uid, Owner{PodUID: uid}},
	{"QoS slice only", "/kubepods.slice/kubepods-burstable.slice", Owner{}},
	// Amazon ECS
	{"ecs", "/ecs/" + suid + "/" + cid, Owner{Container: cid}},
	// not recognised
	{"lxc", "/lxc/web01", Owner{}},
	{"lxc payload", "/lxc.payload.web01/system.slice/nginx.service", Owner{}},
	{"systemd-nspawn", "/machine.slice/systemd-nspawn@web.service/payload", Owner{}},
	{"machined scope", "/machine.slice/machine-web.scope", Owner{}},
	{"garden", "/garden/1ca2c7fc-7d3c-4f6b-9c8e-5a6b7c8d9e0f", Owner{}},
	{"mesos", "/mesos/1ca2c7fc-7d3c-4f6b-9c8e-5a6b7c8d9e0f", Owner{}},
	{"user session", "/user.slice/user-1000.slice/session-3.scope", Owner{}},
	{"32-digit sandbox cgroup", "/process_api/c3021afc591f0f3072fa7f68f0fdc6b1", Owner{}},
	{"upper-case ID", "/docker/" + strings.ToUpper(cid), Owner{}},
	{"ID one digit short", "/docker/" + cid[1:], Owner{}},
	{"pod without kubepods", "/system.slice/foo-pod" + uidU + ".slice", Owner{}},
	{"pod with a bad UID", "/kubepods/burstable/pod" + uid[1:], Owner{}},
	{"empty", "", Owner{}},
}

func TestParsePath(t *testing.T) {
	for _, tc := range realPaths {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ParsePath(tc.path), tc.path)
		})
	}
}

func TestOwnerID(t *testing.T) {
	assert.Equal(t, cid, Owner{Container: cid, PodUID: uid}.ID(), "a container wins")
	assert.Equal(t, "pod"+uid, Owner{PodUID: uid}.ID())
	assert.Equal(t, noOne, Owner{}.ID())
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, file string
		want       Owner
	}{
		{"v2 only", "0::/system.slice/docker-" + cid + ".scope\n", Owner{Container: cid}},
		{"v1 only", "12:pids:/docker/" + cid + "\n11:memory:/docker/" + cid + "\n1:name=systemd:/docker/" + cid + "\n", Owner{Container: cid}},
		{"hybrid: v2 first", "1:pids:/docker/" + cid2 + "\n0::/system.slice/docker-" + cid + ".scope\n", Owner{Container: cid}},
		{"hybrid: v2 names nothing, a v1 controller does", "9:name=systemd:/\n8:pids:/kubepods/burstable/pod" + uid + "/" + cid + "\n4:memory:/\n0::/\n", Owner{Container: cid, PodUID: uid}},
		{"first v1 line that names one", "3:cpu:/\n2:pids:/docker/" + cid + "\n1:memory:/docker/" + cid2 + "\n", Owner{Container: cid}},
		{"this sandbox", "9:name=systemd:/\n4:memory:/process_api/c3021afc591f0f3072fa7f68f0fdc6b1\n0::/\n", Owner{}},
		{"no trailing newline", "0::/docker/" + cid, Owner{Container: cid}},
		{"path with colons", "0::/a:b/docker-" + cid + ".scope", Owner{Container: cid}},
		{"malformed lines skipped", "garbage\n:\n12\n0:/x\n5:pids:/docker/" + cid + "\n", Owner{Container: cid}},
		{"empty", "", Owner{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Parse([]byte(tc.file)))
		})
	}
}

// FuzzParse: Parse never panics, and what it returns is well formed.
func FuzzParse(f *testing.F) {
	for _, tc := range realPaths {
		f.Add([]byte("0::" + tc.path + "\n"))
	}
	f.Add([]byte("12:pids:/kubepods/burstable/pod" + uid + "/" + cid + "\n0::/\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o := Parse(b)
		if o.Container != "" && !isHex(o.Container, idLen) {
			t.Fatalf("container %q is not a 64-digit ID", o.Container)
		}
		if o.PodUID != "" && !isUUID(o.PodUID) && !isHex(o.PodUID, 32) {
			t.Fatalf("pod UID %q is malformed", o.PodUID)
		}
		if id := o.ID(); id != "" && !strings.Contains(string(b), strings.TrimPrefix(id, "pod")) &&
			!strings.Contains(strings.ReplaceAll(string(b), "_", "-"), strings.TrimPrefix(id, "pod")) {
			t.Fatalf("ID %q is not in the input", id)
		}
	})
}
