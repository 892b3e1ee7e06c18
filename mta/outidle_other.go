//go:build !linux

package mta

import "syscall"

// quiet cannot tell without reading on this system; a connection the peer
// closed is then noticed at its first command (outcache.go falls back to a
// new connection).
func quiet(syscall.RawConn) bool { return true }
