// Package cgroup tells which container a process runs in from the cgroup
// paths the kernel reports for it in /proc/PID/cgroup.
//
// Container runtimes name the cgroup of each container after its ID, and
// Kubernetes names the cgroup of each pod after its UID. Parse recognises
// these layouts, with either cgroup driver (cgroupfs directories or
// systemd units) and in cgroup v1 and v2 hierarchies:
//
//	docker      /docker/ID                      .../docker-ID.scope
//	containerd  /kubepods/.../podUID/ID         .../cri-containerd-ID.scope, .../nerdctl-ID.scope, /NAMESPACE/ID
//	CRI-O       /kubepods/.../podUID/crio-ID    .../crio-ID.scope
//	podman      /libpod_parent/libpod-ID        .../libpod-ID.scope (and its /container child)
//	Kubernetes  /kubepods[/QOS]/podUID          kubepods[-QOS]-podUID.slice (UID with '_' for '-')
//
// where ID is a 64-digit lower-case hexadecimal container ID and UID a pod
// UID (a dashed UUID, or 32 hexadecimal digits for a static pod). Any path
// segment that is exactly a 64-digit hexadecimal ID counts as a container
// (Amazon ECS's /ecs/TASK/ID and containerd's NAMESPACE/ID too).
//
// Not recognised, because their cgroups carry a name rather than an ID or
// nothing that identifies the container: LXC and LXD (/lxc/NAME,
// /lxc.payload.NAME), systemd-nspawn and machined (machine-NAME.scope,
// systemd-nspawn@NAME.service), Cloud Foundry garden (/garden/HANDLE),
// Mesos (/mesos/UUID), and the runtimes' monitor processes (conmon:
// crio-conmon-ID.scope, libpod-conmon-ID.scope), which run beside the
// container rather than in it. Processes in those get no container.
//
// The parser is pure and builds on every OS; the provider reads the file.
package cgroup

import (
	"bytes"
	"strings"
)

// Owner is what a process's cgroup says about the container it runs in.
type Owner struct {
	// Container is the 64-digit hexadecimal container ID, "" if the
	// cgroup names none.
	Container string
	// PodUID is the Kubernetes pod's UID in its dashed form (or the 32
	// hexadecimal digits of a static pod), "" if the cgroup names none.
	PodUID string
}

// ID is what tcptable reports as Connection.Container: the container ID
// when the cgroup names a container, "pod" followed by the pod UID when it
// names only a Kubernetes pod (a process placed in the pod's own cgroup
// rather than one of its containers'), "" otherwise.
func (o Owner) ID() string {
	switch {
	case o.Container != "":
		return o.Container
	case o.PodUID != "":
		return "pod" + o.PodUID
	}
	return ""
}

// Parse reads the contents of /proc/PID/cgroup, lines of
// "HIERARCHY-ID:CONTROLLERS:PATH", and returns what the first path that
// names a container or pod says: the cgroup v2 line ("0::PATH") first,
// then the v1 lines in their order. Malformed lines are skipped; anything
// else yields the zero Owner.
func Parse(b []byte) Owner {
	for _, v2 := range [...]bool{true, false} {
		for rest := b; len(rest) > 0; {
			var line []byte
			line, rest, _ = bytes.Cut(rest, []byte{'\n'})
			id, tail, ok := bytes.Cut(line, []byte{':'})
			if !ok {
				continue
			}
			_, path, ok := bytes.Cut(tail, []byte{':'})
			if !ok || v2 != (string(id) == "0") {
				continue
			}
			if o := ParsePath(string(path)); o != (Owner{}) {
				return o
			}
		}
	}
	return Owner{}
}

// ParsePath returns what one cgroup path says. Segments are read from the
// innermost out: the first that names a container or a pod decides, and a
// container's pod is taken from the segments above it. A pod found first
// (the process sits in the pod's cgroup) gives an Owner with PodUID only,
// even if a container encloses the pod (Kubernetes in Docker).
func ParsePath(path string) Owner {
	var o Owner
	for len(path) > 0 {
		i := strings.LastIndexByte(path, '/')
		seg := path[i+1:]
		path = path[:max(i, 0)]
		if o.Container == "" {
			if id, ok := containerSegment(seg); ok {
				o.Container = id
				continue
			}
		}
		if uid, ok := podSegment(seg); ok {
			o.PodUID = uid
			return o
		}
	}
	return o
}

// containerSegment returns the container ID a segment names: the ID
// alone, or after one of the prefixes runtimes put before it in a cgroup
// name: systemd scopes (docker-ID.scope, ...) and, without the .scope
// suffix, the cgroupfs names of CRI-O and podman.
func containerSegment(seg string) (string, bool) {
	seg = strings.TrimSuffix(seg, ".scope")
	if isHex(seg, idLen) {
		return seg, true
	}
	for _, p := range [...]string{"docker-", "cri-containerd-", "crio-", "libpod-", "nerdctl-"} {
		if id, ok := strings.CutPrefix(seg, p); ok && isHex(id, idLen) {
			return id, true
		}
	}
	return "", false
}

// idLen is the length of a container ID: 32 bytes in hexadecimal.
const idLen = 64

// podSegment returns the pod UID a segment names: "podUID" (cgroupfs) or
// "...kubepods...-podUID.slice" (systemd, which writes '_' for '-').
func podSegment(seg string) (string, bool) {
	var uid string
	if s, ok := strings.CutSuffix(seg, ".slice"); ok {
		i := strings.LastIndex(s, "-pod")
		if i < 0 || !strings.Contains(s[:i], "kubepods") {
			return "", false
		}
		uid = strings.ReplaceAll(s[i+len("-pod"):], "_", "-")
	} else if s, ok := strings.CutPrefix(seg, "pod"); ok {
		uid = s
	} else {
		return "", false
	}
	if isHex(uid, 32) || isUUID(uid) {
		return uid, true
	}
	return "", false
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 lower-case
// hexadecimal form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHexDigit(s[i]) {
				return false
			}
		}
	}
	return true
}

// isHex reports whether s is n lower-case hexadecimal digits.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
