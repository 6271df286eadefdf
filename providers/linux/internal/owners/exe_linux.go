package owners

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrOtherProcess is wrapped by Executable's error when the PID now names
// another process than the one asked about.
var ErrOtherProcess = errors.New("the PID names another process now")

// Executable returns the path of the executable of process pid (the
// target of root/PID/exe), if that process is still the one that started
// startTicks clock ticks after boot (/proc/PID/stat field 22): a PID
// reused since is an error wrapping ErrOtherProcess, an exited process
// one wrapping fs.ErrNotExist.
func Executable(root string, pid uint32, startTicks uint64) (string, error) {
	dir := filepath.Join(root, strconv.FormatUint(uint64(pid), 10))
	var buf [1024]byte
	b, err := readSmall(unix.AT_FDCWD, filepath.Join(dir, "stat"), buf[:])
	if err != nil {
		return "", err
	}
	st, err := parseStat(b)
	if err != nil {
		return "", err
	}
	if st.start != startTicks {
		return "", fmt.Errorf("process %d started at tick %d, not %d: %w", pid, st.start, startTicks, ErrOtherProcess)
	}
	return os.Readlink(filepath.Join(dir, "exe"))
}
