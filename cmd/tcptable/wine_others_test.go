//go:build !windows

package main

// underWine reports whether the test runs under Wine: never off Windows.
func underWine() bool { return false }
