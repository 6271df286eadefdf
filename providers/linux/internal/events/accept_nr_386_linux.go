//go:build linux && (386 || s390x)

package events

// acceptNR is -1: 32-bit x86 and s390x reach accept through socketcall,
// which the tracer does not decode; accept4 (364) is a system call of its
// own.
const acceptNR int64 = -1
