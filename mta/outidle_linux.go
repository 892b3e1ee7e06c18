package mta

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// quiet reports whether an idle socket has nothing to say, without
// reading: an SMTP server speaks only when asked, so input waiting on an
// idle connection (a 421 before it closes, a TLS alert) or the peer's FIN
// means the connection cannot carry another transaction.
func quiet(rc syscall.RawConn) bool {
	ok := false
	err := rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLRDHUP}}
		n, err := unix.Poll(fds, 0)
		ok = err == nil && n == 0
	})
	return err == nil && ok
}
