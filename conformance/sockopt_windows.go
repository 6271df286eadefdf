//go:build windows

package conformance

import "syscall"

// setV6Only sets IPV6_V6ONLY on the socket fd.
func setV6Only(fd uintptr, on bool) error {
	return syscall.SetsockoptInt(syscall.Handle(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, boolInt(on))
}
