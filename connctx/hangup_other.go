//go:build !linux

package connctx

import "syscall"

// hungUp cannot tell without reading on this system; a hang-up is then
// noticed when the session next reads from the client.
func hungUp(syscall.RawConn) bool { return false }
