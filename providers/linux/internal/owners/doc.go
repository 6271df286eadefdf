// Package owners finds the processes that hold each socket of a TCP
// table: from /proc/PID/fd (reading each descriptor's link, which never
// enters the file's file system) or from the kernel's descriptor iterator
// (package fditer), with a cache of descriptor lists across polls.
package owners
