package mta_test

import (
	"bufio"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"mailhost/testdb"
)

// rawSMTP is a client that can walk away in the middle of a command.
type rawSMTP struct {
	t    *testing.T
	conn net.Conn
	r    *textproto.Reader
}

func (e *env) dialRaw(t *testing.T) *rawSMTP {
	t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := &rawSMTP{t: t, conn: c, r: textproto.NewReader(bufio.NewReader(c))}
	r.expect("", 220)
	r.expect("EHLO client.example", 250)
	return r
}

func (r *rawSMTP) send(line string) {
	r.t.Helper()
	if _, err := r.conn.Write([]byte(line + "\r\n")); err != nil {
		r.t.Fatal(err)
	}
}

// expect sends line (unless empty) and reads a reply with code want.
func (r *rawSMTP) expect(line string, want int) string {
	r.t.Helper()
	if line != "" {
		r.send(line)
	}
	code, msg, err := r.r.ReadResponse(want)
	if err != nil {
		r.t.Fatalf("%s: %d %s: %v", line, code, msg, err)
	}
	return msg
}

// TestDisconnectCancelsRcpt: a client that hangs up while its RCPT waits
// on the database cancels that query.
func TestDisconnectCancelsRcpt(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	c := e.dialRaw(t)
	c.expect("MAIL FROM:<bob@remote.example>", 250)
	b := testdb.Block(t, e.st, "mailboxes")
	c.send("RCPT TO:<alice@example.test>")
	b.WaitFor(t, 1, "RCPT to wait for the mailboxes table")
	c.conn.Close()
	b.WaitFor(t, 0, "RCPT's query to be cancelled")
}

// TestShutdownCancelsRcpt: a shutdown cancels a RCPT waiting on the
// database; the client gets 421 and the server stops while the table is
// still locked.
func TestShutdownCancelsRcpt(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	c := e.dialRaw(t)
	c.expect("MAIL FROM:<bob@remote.example>", 250)
	b := testdb.Block(t, e.st, "mailboxes")
	c.send("RCPT TO:<alice@example.test>")
	b.WaitFor(t, 1, "RCPT to wait for the mailboxes table")
	stopped := make(chan struct{})
	go func() { e.stop(); close(stopped) }()
	b.WaitFor(t, 0, "RCPT's query to be cancelled")
	code, msg, err := c.r.ReadResponse(421)
	if err != nil || !strings.Contains(msg, "shutting down") {
		t.Errorf("RCPT during shutdown: %d %q %v, want 421 4.3.2", code, msg, err)
	}
	<-stopped
}
