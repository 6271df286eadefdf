package testenv

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
)

// recorder is a TB that records how the test would have ended.
type recorder struct {
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) { r.skipped = fmt.Sprintf(format, args...) }

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestRequired(t *testing.T) {
	for value, want := range map[string]bool{
		"": false, "0": false, "false": false, "FALSE": false, " 0 ": false,
		"1": true, "true": true, "yes": true, "on": true,
	} {
		t.Setenv(RequireEnv, value)
		assert.Equal(t, want, Required(), "%s=%q", RequireEnv, value)
	}
}

func TestSkipOrFail(t *testing.T) {
	t.Setenv(RequireEnv, "")
	var r recorder
	SkipOrFail(&r, "needs %s (apt-get install iproute2)", "ss")
	assert.Equal(t, "needs ss (apt-get install iproute2)", r.skipped)
	assert.Empty(t, r.failed)

	t.Setenv(RequireEnv, "1")
	r = recorder{}
	SkipOrFail(&r, "needs %s (apt-get install iproute2)", "ss")
	assert.Empty(t, r.skipped)
	assert.Equal(t, "needs ss (apt-get install iproute2) ("+RequireEnv+" is set: a missing requirement is a failure)", r.failed)
}

func TestSkipOrFailIf(t *testing.T) {
	t.Setenv(RequireEnv, "")
	var r recorder
	SkipOrFailIf(&r, nil, "BTF")
	assert.Equal(t, recorder{}, r, "no error, nothing to do")
	SkipOrFailIf(&r, errors.New("no /sys/kernel/btf/vmlinux"), "kernel BTF")
	assert.Equal(t, "kernel BTF: no /sys/kernel/btf/vmlinux", r.skipped)

	t.Setenv(RequireEnv, "1")
	r = recorder{}
	SkipOrFailIf(&r, errors.New("EPERM"), "BPF")
	assert.Contains(t, r.failed, "BPF: EPERM")
}

func TestMustBeRoot(t *testing.T) {
	for _, required := range []string{"", "1"} {
		t.Setenv(RequireEnv, required)
		var r recorder
		MustBeRoot(&r, "to create a network namespace")
		if os.Geteuid() == 0 {
			assert.Equal(t, recorder{}, r, "root needs nothing")
			continue
		}
		got := r.skipped
		if required != "" {
			got = r.failed
		}
		assert.Contains(t, got, "needs root to create a network namespace")
	}
}

func TestLookPath(t *testing.T) {
	t.Setenv(RequireEnv, "1")
	var r recorder
	path := LookPath(&r, "go", "install Go")
	assert.NotEmpty(t, path, "go test runs with go on PATH")
	assert.Equal(t, recorder{}, r)

	const missing = "tcptable-no-such-program"
	assert.Empty(t, LookPath(&r, missing, "apt-get install nothing"))
	assert.Contains(t, r.failed, "needs "+missing+", which is not installed (apt-get install nothing)")

	t.Setenv(RequireEnv, "")
	r = recorder{}
	LookPath(&r, missing, "apt-get install nothing")
	assert.Equal(t, "needs "+missing+", which is not installed (apt-get install nothing)", r.skipped)
	assert.Empty(t, r.failed)
}

// TestRealSkip runs the helper against a real *testing.T in a subtest: it
// must skip (not fail) without the variable, and the parent sees it.
func TestRealSkip(t *testing.T) {
	t.Setenv(RequireEnv, "")
	var ran bool
	t.Run("child", func(t *testing.T) {
		SkipOrFail(t, "needs nothing really")
		ran = true
	})
	assert.False(t, ran, "SkipOrFail ends the test")
}
