//go:build linux

package netnstest

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/internal/setns"
)

// Do runs fn on an OS thread that has entered the namespace, so that the
// sockets fn creates live there, held by the calling process. The thread
// goes back to its namespace afterwards; if it cannot, it stays locked and
// Go discards it. The caller's own thread never moves.
func (ns *NS) Do(fn func() error) error {
	fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("netnstest: open %s: %w", ns.Path, err)
	}
	defer unix.Close(fd)
	if err := setns.Run(fd, fn); err != nil {
		return fmt.Errorf("netnstest: in %s: %w", ns.Name, err)
	}
	return nil
}
