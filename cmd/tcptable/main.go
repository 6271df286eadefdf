// Command tcptable prints the host's TCP table with owners.
package main

import (
	"fmt"
	"os"

	"github.com/tcptable/tcptable/providers/native"
)

func main() {
	p, err := native.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcptable:", err)
		os.Exit(1)
	}
	defer p.Close()
}
