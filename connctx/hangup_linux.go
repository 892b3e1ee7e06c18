package connctx

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// hungUp reports whether the peer of the socket has closed its side (or
// the connection broke), without reading: POLLRDHUP is set once the peer's
// FIN has arrived, whatever input is still unread. A client that only
// shuts down its sending side counts as gone, as PostgreSQL's
// client_connection_check_interval counts it.
func hungUp(rc syscall.RawConn) bool {
	gone := false
	err := rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		n, err := unix.Poll(fds, 0)
		gone = err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
	})
	return err != nil || gone // an error: the socket is closed already
}
