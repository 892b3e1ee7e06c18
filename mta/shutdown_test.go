package mta_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestShutdown: when the server stops (SIGTERM), an idle session gets
// 421 and a DATA in progress finishes with 250, then its connection
// closes; no new connection is accepted.
func TestShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	watch := &dataWatch{Listener: ln, inData: make(chan struct{})}
	e := newEnvOn(t, watch)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)

	idle, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idle.SetReadDeadline(time.Now().Add(30 * time.Second))
	idleR := bufio.NewReader(idle)
	if l, err := idleR.ReadString('\n'); err != nil || !strings.HasPrefix(l, "220 ") {
		t.Fatalf("greeting %q, %v", l, err)
	}
	busy := e.dial("")
	if err := busy.Mail("bob@remote.example", nil); err != nil {
		t.Fatal(err)
	}
	if err := busy.Rcpt("alice@example.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := busy.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: in flight\r\n\r\nfirst half ")
	select {
	case <-watch.inData: // the server is inside DATA now
	case <-time.After(30 * time.Second):
		t.Fatal("the server never read the message data")
	}

	stopped := make(chan struct{})
	go func() { e.stop(); close(stopped) }()

	// The idle session hears 421 without asking.
	if l, err := idleR.ReadString('\n'); err != nil || !strings.HasPrefix(l, "421 4.3.2 ") {
		t.Fatalf("idle session got %q, %v; want 421 4.3.2", l, err)
	}
	io.WriteString(w, "second half\r\n")
	if err := w.Close(); err != nil {
		t.Fatalf("in-flight DATA: %v", err)
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after the last transaction")
	}
	if err := busy.Noop(); err == nil {
		t.Error("busy connection still open after its transaction")
	}
	files := e.files("alice@example.test", "INBOX")
	if len(files) != 1 || !strings.Contains(e.read(files[0]), "first half second half") {
		t.Errorf("files %v", files)
	}
	if _, err := smtp.Dial(e.addr); err == nil {
		t.Error("new connection accepted after shutdown")
	}
}

// dataWatch is a listener whose connections tell when the server, having
// answered 354 to DATA, reads again: it is then inside the session's Data,
// which is what makes a connection busy for the shutdown.
type dataWatch struct {
	net.Listener
	inData chan struct{} // closed at the first such read
	once   sync.Once
}

func (l *dataWatch) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &dataWatchConn{Conn: c, l: l}, nil
}

type dataWatchConn struct {
	net.Conn
	l       *dataWatch
	sent354 atomic.Bool
}

func (c *dataWatchConn) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("354 ")) {
		c.sent354.Store(true)
	}
	return c.Conn.Write(p)
}

func (c *dataWatchConn) Read(p []byte) (int, error) {
	if c.sent354.Load() {
		c.l.once.Do(func() { close(c.l.inData) })
	}
	return c.Conn.Read(p)
}
