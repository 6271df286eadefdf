// Command windump prints the Windows provider's TCP table, with PIDs, as one
// JSON array of tcptable.Connection. The Wine-vs-Linux differential test
// (TestWineDifferential) cross-compiles it and runs it under Wine inside a
// network namespace.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/windows"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "windump:", err)
		os.Exit(1)
	}
}

func run() error {
	p, err := windows.New()
	if err != nil {
		return err
	}
	defer p.Close()
	rows, err := p.Table(context.Background(), tcptable.Query{Owners: tcptable.OwnerPIDs})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(rows)
}
