//go:build !linux

// Command tcptable-bench times the Linux provider; it runs only on Linux.
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Fprintf(os.Stderr, "tcptable-bench: needs Linux (network namespaces, ss), not %s\n", runtime.GOOS)
	os.Exit(1)
}
