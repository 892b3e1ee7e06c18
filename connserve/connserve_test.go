package connserve

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// echoUntilClosing serves one line per read like a protocol session: a
// read that fails during a shutdown says goodbye, as POP3 and ManageSieve do.
func echoUntilClosing(g *Conns) func(net.Conn) {
	return func(c net.Conn) {
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				if g.Closing() && errors.Is(err, os.ErrDeadlineExceeded) {
					c.Write([]byte("bye\n"))
				}
				return
			}
			c.Write([]byte(line))
		}
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, line)
	}
	return line
}

// pinged dials ln and checks that the session echoes a line; the
// connection is closed when the test ends.
func pinged(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.Write([]byte("ping\n"))
	if got := readLine(t, c); got != "ping\n" {
		t.Fatalf("echo: %q", got)
	}
	return c
}

// Sessions are served in parallel; a shutdown closes the listener, wakes
// the idle sessions (each says goodbye) and returns once they are gone.
func TestShutdownWakesIdleSessions(t *testing.T) {
	var g Conns
	ln := listen(t)
	errc := make(chan error, 1)
	go func() { errc <- g.Accept(context.Background(), ln, echoUntilClosing(&g)) }()
	clients := make([]net.Conn, 3)
	for i := range clients {
		clients[i] = pinged(t, ln)
	}
	g.Shutdown([]net.Listener{ln}, 0)
	for i, c := range clients {
		if got := readLine(t, c); got != "bye\n" {
			t.Errorf("client %d: %q, want the goodbye", i, got)
		}
	}
	if err := <-errc; err != nil {
		t.Errorf("Accept after the listener closed: %v", err)
	}
	if !g.Closing() {
		t.Error("Closing is false after Shutdown")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
}

// A session that does not end by itself is closed after the grace.
func TestShutdownGraceClosesBusySessions(t *testing.T) {
	var g Conns
	ln := listen(t)
	started, ended := make(chan struct{}), make(chan error, 1)
	go g.Accept(context.Background(), ln, func(c net.Conn) {
		close(started)
		// Busy: ignores the deadline (reads again), ends only when closed.
		for {
			if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				ended <- err
				return
			}
			c.SetReadDeadline(time.Time{})
		}
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-started
	g.Shutdown([]net.Listener{ln}, 100*time.Millisecond)
	select {
	case err := <-ended:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("the busy session ended with %v, want its connection closed", err)
		}
	default:
		t.Error("Shutdown returned before the busy session ended")
	}
}

// emfileListener fails its first Accepts as a process out of file
// descriptors does.
type emfileListener struct {
	net.Listener
	fails int
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// Running out of file descriptors does not stop the server: Accept waits
// and tries again, and the next client is served.
func TestAcceptSurvivesTooManyOpenFiles(t *testing.T) {
	var g Conns
	ln := listen(t)
	errc := make(chan error, 1)
	go func() {
		errc <- g.Accept(context.Background(), &emfileListener{Listener: ln, fails: 3}, echoUntilClosing(&g))
	}()
	pinged(t, ln) // served after the failed accepts
	g.Shutdown([]net.Listener{ln}, 0)
	if err := <-errc; err != nil {
		t.Errorf("Accept: %v", err)
	}
}
