package main

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux"
)

// TestSkipsOf: a namespace that vanished during the read is not a skip (a
// test run or a container ending beside serve --all-netns must not raise
// tcptable_netns_skipped or log a partial host); one the caller may not
// enter, or that failed otherwise, is.
func TestSkipsOf(t *testing.T) {
	spaces := []linux.NetNS{
		{Inode: 1},
		{Inode: 2, Err: fmt.Errorf("setns: %w", tcptable.ErrPermission)},
		{Inode: 3, Err: fmt.Errorf("network namespace 3: %w", fs.ErrNotExist)},
		{Inode: 4, Err: errors.New("sock_diag: broken")},
		{Inode: 5},
	}
	s := skipsOf(spaces)
	assert.Equal(t, 4, s.total)
	assert.Equal(t, 1, s.denied)
	assert.Equal(t, 1, s.other)
	assert.EqualError(t, s.first, "sock_diag: broken")
	assert.Contains(t, s.String(), "read 2 of 4 network namespaces;")

	gone := skipsOf([]linux.NetNS{{Inode: 1}, {Inode: 3, Err: fs.ErrNotExist}})
	assert.Equal(t, "", gone.String(), "a vanished namespace is not reported")
	assert.Equal(t, 1, gone.total)
}
