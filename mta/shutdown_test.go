package mta_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestShutdown: when the server stops (SIGTERM), an idle session gets
// 421 and a DATA in progress finishes with 250, then its connection
// closes; no new connection is accepted.
func TestShutdown(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)

	idle := e.dial("")
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
	time.Sleep(100 * time.Millisecond) // the server is inside DATA now

	stopped := make(chan struct{})
	go func() { e.stop(); close(stopped) }()
	time.Sleep(200 * time.Millisecond)

	wantCode(t, idle.Noop(), 421, smtp.EnhancedCode{4, 3, 2})
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
