//go:build linux && (386 || arm || mips || mipsle || ppc || sparc64)

package owners

import "golang.org/x/sys/unix"

// sysFstatat is the fstatat system call that fills a unix.Stat_t on this
// architecture (fstatat64 on 32-bit ones).
const sysFstatat = unix.SYS_FSTATAT64
