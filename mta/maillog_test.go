package mta_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mailhost/mta"
)

// TestMailLog: one line per accepted, delivered and rejected message, with
// the queue id the 250 reply carries.
func TestMailLog(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	c := e.dial("127.0.0.2")
	if err := send(c, "bob@remote.example", []string{"alice@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	send(c, "bob@remote.example", []string{"nobody@example.test"}, testMsg)
	// A refused MAIL names the sender it tried.
	long := strings.Repeat("x", 70) + "@remote.example" // a local part over 64 octets
	send(e.dial("127.0.0.2"), long, []string{"alice@example.test"}, testMsg)
	acc := e.logs.lines("accepted")
	del := e.logs.lines("delivered")
	rej := e.logs.lines("reject")
	if len(acc) != 1 || len(del) != 1 || len(rej) != 2 {
		t.Fatalf("accepted %v delivered %v reject %v", acc, del, rej)
	}
	qid, _ := acc[0]["queue_id"].(string)
	if qid == "" || del[0]["queue_id"] != qid || acc[0]["client"] != "127.0.0.2" || acc[0]["from"] != "bob@remote.example" ||
		fmt.Sprint(acc[0]["rcpts"]) != "[alice@example.test]" || acc[0]["size"] == nil {
		t.Errorf("accepted line %v", acc[0])
	}
	if del[0]["to"] != "alice@example.test" || del[0]["folder"] != "INBOX" || del[0]["uid"] != float64(1) {
		t.Errorf("delivered line %v", del[0])
	}
	if rej[0]["reason"] != "unknown_user" || rej[0]["code"] != float64(550) || rej[0]["to"] != "nobody@example.test" ||
		rej[0]["client"] != "127.0.0.2" {
		t.Errorf("reject line %v", rej[0])
	}
	if rej[1]["stage"] != "MAIL" || rej[1]["from"] != long {
		t.Errorf("MAIL reject line %v", rej[1])
	}
}

// TestIdleTimeoutAnd8bit: a silent client is dropped with 421 4.4.2;
// 8-bit data without BODY=8BITMIME is accepted, as Postfix does.
func TestIdleTimeoutAnd8bit(t *testing.T) {
	e := newEnv(t, func(c *mta.Config) { c.Timeout = time.Second })
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "EHLO c\r\nMAIL FROM:<b@r.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: caf\xc3\xa9\r\n\r\nna\xefve\r\n.\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(conn) // the server closes after the timeout
	out := string(b)
	if !strings.Contains(out, "250 2.0.0 Ok: queued as") || !strings.HasSuffix(out, "421 4.4.2 mx.test Error: timeout exceeded\r\n") {
		t.Errorf("replies:\n%s", out)
	}
	if files := e.files("alice@example.test", "INBOX"); len(files) != 1 || !strings.Contains(e.read(files[0]), "na\xefve") {
		t.Errorf("files %v", files)
	}
}
