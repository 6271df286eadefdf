package linux

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
)

// hugePage is the size of a transparent huge page on the common platforms
// (2 MiB with 4 KiB pages: amd64, arm64, riscv64).
const hugePage = 2 << 20

// minHugeRows is the smallest array (in bytes) worth advising: four huge
// pages, about 37,000 rows (40,000 Stats).
const minHugeRows = 4 * hugePage

// makeRows allocates n zero rows. A large array is advised to use
// transparent huge pages (madvise MADV_HUGEPAGE on the whole huge pages it
// spans) before anything writes it: Go takes a large allocation fresh from
// the OS without touching it, and a table of 200,000 rows (45 MB) written
// page by page costs 11,000 page faults, in a virtual machine each also a
// fault of the host, where huge pages cost 22. On this project's 2-CPU VM
// that took 140 ms (a third) off the first poll of a 200,000-socket table
// (docs/performance.md). With THP set to "never" the advice does nothing;
// with "madvise" (the usual default) it is what enables them for this
// array; a kernel short of free huge pages falls back to small ones.
func makeRows(n int) []tcptable.Connection { return makeAdvised[tcptable.Connection](n) }

// makeAdvised allocates n zero values of T, advised to use transparent huge
// pages as makeRows says when the array is large.
func makeAdvised[T any](n int) []T {
	rows := make([]T, n)
	var zero T
	size := uintptr(n) * unsafe.Sizeof(zero)
	if size < minHugeRows {
		return rows
	}
	base := unsafe.Pointer(unsafe.SliceData(rows))
	start := uintptr(base)
	first := (start + hugePage - 1) &^ (hugePage - 1)
	last := (start + size) &^ (hugePage - 1)
	if last > first {
		// Advice changes only how the memory is backed: an error (THP not
		// built in) changes nothing else, so it is ignored.
		region := unsafe.Slice((*byte)(unsafe.Add(base, first-start)), last-first)
		_ = unix.Madvise(region, unix.MADV_HUGEPAGE)
	}
	return rows
}
