package imapd_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// raw is a line-level IMAP conversation.
type raw struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
	// wait is how long expect waits for a line (0: 10 s).
	wait time.Duration
}

func dialRaw(t testing.TB, addr string) *raw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &raw{t: t, c: c, br: bufio.NewReader(c)}
	r.expect("* OK")
	return r
}

func (r *raw) send(s string) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// expect reads lines until one starts with prefix and returns it.
func (r *raw) expect(prefix string) string {
	r.t.Helper()
	wait := r.wait
	if wait == 0 {
		wait = 10 * time.Second
	}
	r.c.SetReadDeadline(time.Now().Add(wait))
	var seen []string
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("waiting for %q: %v (saw %q)", prefix, err, seen)
		}
		if strings.HasPrefix(line, prefix) {
			return line
		}
		seen = append(seen, line)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	id := e.addMailbox(t, "bob@example.test", "secret", 0)
	addr := e.nodes[0].addr

	// Wrong state, then login.
	r := dialRaw(t, addr)
	r.send("a1 SELECT INBOX\r\n")
	if l := r.expect("a1 "); !strings.HasPrefix(l, "a1 BAD") {
		t.Errorf("SELECT before login: %q", l)
	}
	r.send("a2 LOGIN bob@example.test secret\r\n")
	r.expect("a2 OK")
	for _, tc := range []struct{ cmd, want string }{
		{"b1 FROBNICATE\r\n", "b1 BAD"},                           // unknown command
		{"b2 FETCH\r\n", "b2 BAD"},                                // malformed
		{"b3 FETCH 1 (FLAGS)\r\n", "b3 BAD"},                      // not selected
		{"b4 SELECT Nowhere\r\n", "b4 NO [NONEXISTENT]"},          // no such folder
		{"b5 CREATE \"a.b\"\r\n", "b5 NO [CANNOT]"},               // '.' cannot be stored in Maildir++
		{"b6 APPEND INBOX {2000000}\r\n", "b6 NO [TOOBIG]"},       // over the APPEND limit
		{"b7 APPEND Nowhere {3}\r\nabc\r\n", "b7 NO [TRYCREATE]"}, // APPEND to a missing folder
		{"b8 SELECT INBOX\r\n", "b8 OK"},
		{"b9 UID FETCH 1:* (FLAGS)\r\n", "b9 OK"},
		{"b10 STORE 1 +FLAGS (\\Bogus)\r\n", "b10 OK"}, // no message 1: nothing to do
		{"b11 SEARCH CHARSET KOI8-R TEXT x\r\n", "b11 NO [BADCHARSET (US-ASCII UTF-8)]"},
		{"b12 NOOP\r\n", "b12 OK"},
	} {
		r.send(tc.cmd)
		if l := r.expect(strings.Fields(tc.cmd)[0] + " "); !strings.HasPrefix(l, tc.want) {
			t.Errorf("%q: got %q, want %s", strings.TrimSpace(tc.cmd), l, tc.want)
		}
	}

	// A client that disconnects in the middle of an APPEND literal leaves
	// nothing behind: no file, no row, no usage.
	r2 := dialRaw(t, addr)
	r2.send("c1 LOGIN bob@example.test secret\r\n")
	r2.expect("c1 OK")
	r2.send("c2 APPEND INBOX {100}\r\n")
	r2.expect("+")
	r2.send("Subject: half\r\n\r\nonly part of it")
	// The client stops sending, which the server sees as a disconnect, and
	// reads until the server, done with the APPEND, closes the connection.
	if err := r2.c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	r2.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.Copy(io.Discard, r2.br); err != nil {
		t.Fatalf("waiting for the server to close: %v", err)
	}
	if files := e.files(t, "bob@example.test", ""); len(files) != 0 {
		t.Errorf("new/, cur/ after a broken APPEND: %v", files)
	}
	if tmp, _ := os.ReadDir(filepath.Join(e.maildirPath("bob@example.test"), "tmp")); len(tmp) != 0 {
		t.Errorf("tmp/ after a broken APPEND: %v", tmp)
	}
	var rows int
	if err := e.db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM messages`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if b, n := usage(t, e, id); rows != 0 || b != 0 || n != 0 {
		t.Errorf("after a broken APPEND: %d rows, usage %d bytes %d messages", rows, b, n)
	}

	// An HTTP request before login ends the connection (cross-protocol
	// attacks; an unknown IMAP command is only BAD, see
	// TestProtocolBehaviours); the server keeps serving others.
	r3 := dialRaw(t, addr)
	r3.send("GET / HTTP/1.1\r\n")
	r3.expect("* BYE")
	r.send("d1 NOOP\r\n")
	r.expect("d1 OK")
	r4 := dialRaw(t, addr)
	r4.send("e1 CAPABILITY\r\n")
	if l := r4.expect("* CAPABILITY"); !strings.Contains(l, "AUTH=PLAIN") || !strings.Contains(l, "STARTTLS") {
		t.Errorf("CAPABILITY on loopback: %q", l)
	}
}

// TestOversizedNonSyncLiteral: APPEND with a LITERAL+ literal over the
// limit is refused (NO [TOOBIG]); the bytes the client sends anyway are not
// commands, so the server closes the connection. Nothing is stored, and the
// server serves the next connection.
func TestOversizedNonSyncLiteral(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	r := dialRaw(t, e.nodes[0].addr)
	r.send("a LOGIN bob@example.test secret\r\n")
	r.expect("a OK")
	body := strings.Repeat("x\r\n", (2<<20)/3)
	go r.c.Write([]byte("b APPEND INBOX {" + strconv.Itoa(len(body)) + "+}\r\n" + body + "\r\nc NOOP\r\n"))
	if l := r.expect("b "); !strings.HasPrefix(l, "b NO [TOOBIG]") {
		t.Errorf("oversized APPEND: %q", l)
	}
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, r.br); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("connection not closed: %v", err)
	}
	if files := e.files(t, "bob@example.test", ""); len(files) != 0 {
		t.Errorf("files: %v", files)
	}
	r2 := dialRaw(t, e.nodes[0].addr)
	r2.send("a LOGIN bob@example.test secret\r\n")
	r2.expect("a OK")
}
