package linux

import "github.com/tcptable/tcptable"

// notNetNSError says that a file given as a network namespace is not one,
// and what it is instead (Kind: "a regular file", "a mount namespace").
// It wraps tcptable.ErrInvalid.
type notNetNSError struct{ Kind string }

func (e notNetNSError) Error() string {
	return "not a network namespace but " + e.Kind + " (want a name under /run/netns or a namespace file such as /proc/PID/ns/net)"
}

// Unwrap returns tcptable.ErrInvalid.
func (notNetNSError) Unwrap() error { return tcptable.ErrInvalid }

// nsTypeName names a namespace type from its CLONE_NEW* flag (linux/sched.h),
// as NS_GET_NSTYPE returns it; "unknown" for a flag it does not know. The
// flags are spelled out so that this file builds on every OS.
func nsTypeName(flag int) string {
	switch flag {
	case 0x00020000: // CLONE_NEWNS
		return "mount"
	case 0x02000000: // CLONE_NEWCGROUP
		return "cgroup"
	case 0x04000000: // CLONE_NEWUTS
		return "UTS"
	case 0x08000000: // CLONE_NEWIPC
		return "IPC"
	case 0x10000000: // CLONE_NEWUSER
		return "user"
	case 0x20000000: // CLONE_NEWPID
		return "PID"
	case 0x40000000: // CLONE_NEWNET
		return "network"
	case 0x00000080: // CLONE_NEWTIME
		return "time"
	}
	return "unknown"
}

// fileKind names the kind of file a stat mode (st_mode) says, for error
// messages: "a directory", "a regular file", ...
func fileKind(mode uint32) string {
	switch mode & 0o170000 { // S_IFMT
	case 0o040000:
		return "a directory"
	case 0o100000:
		return "a regular file"
	case 0o120000:
		return "a symbolic link"
	case 0o010000:
		return "a FIFO"
	case 0o140000:
		return "a socket"
	case 0o020000:
		return "a character device"
	case 0o060000:
		return "a block device"
	}
	return "a file of unknown type"
}
