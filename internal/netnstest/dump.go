//go:build linux

package netnstest

import (
	"encoding/json"
	"fmt"
	"os"
)

// DumpMain is the body of a test binary re-run as a child (often as nobody,
// or in a namespace) to report what it sees: it prints what dump returns
// as JSON on stdout and returns exit status 0, or prints the error on
// stderr and returns 1.
func DumpMain(dump func() (any, error)) int {
	v, err := dump()
	if err == nil {
		err = json.NewEncoder(os.Stdout).Encode(v)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
