//go:build windows

package main

import (
	"os"

	"golang.org/x/sys/windows"
)

// enableVT turns on the console's processing of ANSI sequences
// (ENABLE_VIRTUAL_TERMINAL_PROCESSING, Windows 10 and later), which a
// classic console leaves off, and returns what restores the mode it had.
// Where the mode cannot be changed, --top's sequences print as text.
func enableVT() (restore func()) {
	h := windows.Handle(os.Stdout.Fd())
	var mode uint32
	if err := windows.GetConsoleMode(h, &mode); err != nil {
		return func() {}
	}
	if err := windows.SetConsoleMode(h, mode|windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING); err != nil {
		return func() {}
	}
	return func() { _ = windows.SetConsoleMode(h, mode) }
}
