package fditer

import (
	"os"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// fakeLoader answers loads from a script: each entry an errno (0 for
// success, which hands out a new descriptor number). It records the
// calls and the descriptors it handed out.
type fakeLoader struct {
	script  []unix.Errno
	calls   int
	handed  []int
	logged  []bool // whether each call asked for the verifier's log
	logText string // written to the log buffer on a failure with the log on
}

func (f *fakeLoader) load(attr *progLoadAttr) (int, error) {
	errno := unix.Errno(0)
	if f.calls < len(f.script) {
		errno = f.script[f.calls]
	} else if len(f.script) > 0 {
		errno = f.script[len(f.script)-1]
	}
	f.calls++
	f.logged = append(f.logged, attr.logSize > 0)
	if errno != 0 {
		if attr.logSize > 0 && f.logText != "" {
			copy(unsafe.Slice((*byte)(attr.logBuf.p), attr.logSize), f.logText+"\x00")
		}
		return -1, errno
	}
	fd := 1000 + len(f.handed)
	f.handed = append(f.handed, fd)
	return fd, nil
}

// TestLoadProgramRetries: a load that fails with EAGAIN is made again, up
// to progLoadAttempts times; a refusal is followed by one load with the
// verifier's log, whose program is the answer if it loads; and no
// descriptor handed out is left behind but the one returned.
func TestLoadProgramRetries(t *testing.T) {
	insns := make([]byte, 16)
	for _, tc := range []struct {
		name      string
		script    []unix.Errno
		calls     int
		wantErr   error
		errText   string
		logOnCall int // the call (1-based) that first asked for the log, 0 for none
	}{
		{"at once", []unix.Errno{0}, 1, nil, "", 0},
		{"after EAGAIN", []unix.Errno{unix.EAGAIN, unix.EAGAIN, unix.EAGAIN, 0}, 4, nil, "", 0},
		{"EAGAIN every time", []unix.Errno{unix.EAGAIN}, progLoadAttempts, unix.EAGAIN, "(5 attempts)", 0},
		{"refused, then loads with the log", []unix.Errno{unix.EINVAL, 0}, 2, nil, "", 2},
		{"refused, then EAGAIN, then loads with the log", []unix.Errno{unix.EINVAL, unix.EAGAIN, 0}, 3, nil, "", 2},
		{"refused twice", []unix.Errno{unix.EACCES}, 2, unix.EACCES, `R0 !read_ok"`, 2},
		{"no permission", []unix.Errno{unix.EPERM}, 1, unix.EPERM, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeLoader{script: tc.script, logText: "0: (95) exit\nR0 !read_ok\n"}
			fd, err := loadProgramWith(f.load, insns, 7)
			assert.Equal(t, tc.calls, f.calls, "loads")
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Contains(t, err.Error(), tc.errText)
				assert.Equal(t, -1, fd)
				assert.Empty(t, f.handed, "no descriptor handed out")
			} else {
				require.NoError(t, err)
				assert.Equal(t, f.handed, []int{fd}, "the one descriptor handed out is the one returned")
			}
			for i, logged := range f.logged {
				assert.Equal(t, tc.logOnCall != 0 && i+1 >= tc.logOnCall, logged, "call %d asked for the log", i+1)
			}
		})
	}
}

// TestOpenCloseNoLeak opens and closes the iterator 200 times while the
// process signals itself without pause (as the Go runtime signals its
// threads to preempt goroutines, which makes the verifier give up with
// EAGAIN): every Open succeeds, and the process holds as many descriptors
// after as before. Before signals were blocked and loads retried, 5-7 of
// 300 such cycles failed, and each such failure whose retry with the log
// succeeded leaked a program descriptor.
func TestOpenCloseNoLeak(t *testing.T) {
	openFDIterOrSkip(t) // root with BTF
	procFD, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(procFD)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				unix.Kill(os.Getpid(), unix.SIGURG) // ignored by the runtime but for preemption
			}
		}
	}()
	before := countFDs(t)
	failed := 0
	for range 200 {
		it, err := Open(procFD)
		if err != nil {
			failed++
			t.Logf("Open: %v", err)
			continue
		}
		require.NoError(t, it.Close())
	}
	close(stop)
	<-done
	assert.Zero(t, failed, "failed Opens")
	assert.Equal(t, before, countFDs(t), "descriptors held before and after")
}

// countFDs is how many descriptors this process holds.
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}
