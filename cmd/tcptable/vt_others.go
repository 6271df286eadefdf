//go:build !windows

package main

// enableVT does nothing: terminals here process ANSI sequences.
func enableVT() (restore func()) { return func() {} }
