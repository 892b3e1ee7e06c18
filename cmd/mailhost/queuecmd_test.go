package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/store"
	"mailhost/testdb"
	"mailhost/testsupport"
)

// TestSendmailAndQueueTools: sendmail delivers hosted recipients at once
// and queues the others; the queue tools list, show, hold, release, flush
// and delete; the binary invoked as sendmail and mailq behaves so.
func TestSendmailAndQueueTools(t *testing.T) {
	data := dataDir(t)
	env := baseEnv("DATABASE_URL="+testdb.New(t), "MAILHOST_DATA_DIR="+data, "MAILHOST_HOSTNAME=host.test")
	run := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errOut := mailhost(t, env, stdin, args...)
		if code != 0 {
			t.Fatalf("mailhost %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	run("", "domain", "add", "example.test")
	run("secret-pw\n", "mailbox", "add", "alice@example.test", "--password-stdin")
	if out := run("", "queue", "list"); !strings.Contains(out, "Mail queue is empty") {
		t.Fatalf("empty queue: %q", out)
	}
	msg := "To: alice@example.test, bob@remote.example\nBcc: carol@remote.example\nSubject: cron\n\n.hidden dot line\nreport\n"
	run(msg, "sendmail", "-t", "-i", "-f", "root@host.test", "-F", "Cron Daemon", "-oem", "-odi")
	files, _ := filepath.Glob(filepath.Join(data, "vmail", "example.test", "alice", "new", "*"))
	if len(files) != 1 {
		t.Fatalf("alice has %d messages", len(files))
	}
	got, _ := os.ReadFile(files[0])
	for _, want := range []string{"Return-Path: <root@host.test>\r\n", "From: Cron Daemon <root@host.test>\r\n", "\r\n.hidden dot line\r\n", "Message-ID: <"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("delivered message lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "Bcc:") {
		t.Errorf("Bcc: kept:\n%s", got)
	}
	out := run("", "queue", "list")
	if !strings.Contains(out, "root@host.test") || !strings.Contains(out, "bob@remote.example") ||
		!strings.Contains(out, "carol@remote.example") || !strings.Contains(out, "1 Request.") {
		t.Fatalf("queue list:\n%s", out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]

	// As "sendmail" and "mailq" (symlinks to the binary).
	dir := t.TempDir()
	for _, n := range []string{"sendmail", "mailq"} {
		if err := os.Symlink(bin, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	old := bin
	bin = filepath.Join(dir, "sendmail")
	run("Subject: plain\n\nhi\n.\nnot read\n", "alice@example.test") // a lone dot ends the message without -i
	bin = filepath.Join(dir, "mailq")
	if out := run(""); !strings.Contains(out, id) {
		t.Fatalf("mailq:\n%s", out)
	}
	bin = old
	files, _ = filepath.Glob(filepath.Join(data, "vmail", "example.test", "alice", "new", "*"))
	if len(files) != 2 {
		t.Fatalf("alice has %d messages after sendmail as argv[0]", len(files))
	}

	if out := run("", "queue", "show", id); !strings.Contains(out, "Subject: cron") || !strings.Contains(out, "origin: sendmail") ||
		strings.Contains(out, "report") {
		t.Fatalf("queue show:\n%s", out)
	}
	if out := run("", "queue", "show", id, "--body"); !strings.Contains(out, "report") {
		t.Fatalf("queue show --body:\n%s", out)
	}
	run("", "queue", "hold", id)
	if out := run("", "queue", "list", "--state", "hold"); !strings.Contains(out, id+"!") {
		t.Fatalf("held message not marked:\n%s", out)
	}
	run("", "queue", "release", id)
	if out := run("", "queue", "flush", "--domain", "remote.example"); !strings.Contains(out, "2") {
		t.Fatalf("flush: %s", out)
	}
	if code, _, errOut := mailhost(t, env, "", "queue", "show", "999999"); code != 1 || !strings.Contains(errOut, "no queued message") {
		t.Fatalf("show unknown: %d %s", code, errOut)
	}
	if code, _, _ := mailhost(t, env, "", "sendmail", "nobody@example.test"); code == 0 {
		t.Fatal("sendmail to an unknown hosted address succeeded")
	}
	run("", "queue", "delete", id)
	if out := run("", "queue", "list"); !strings.Contains(out, "Mail queue is empty") {
		t.Fatalf("after delete:\n%s", out)
	}
}

// countingSink is an SMTP server that counts deliveries per recipient.
type countingSink struct {
	mu   sync.Mutex
	seen map[string]int
}

func (s *countingSink) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &countingSession{s: s}, nil
}

type countingSession struct {
	s  *countingSink
	to []string
}

func (c *countingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (c *countingSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	c.to = append(c.to, to)
	return nil
}
func (c *countingSession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	c.s.mu.Lock()
	for _, to := range c.to {
		c.s.seen[to]++
	}
	c.s.mu.Unlock()
	return nil
}
func (c *countingSession) Reset()        { c.to = nil }
func (c *countingSession) Logout() error { return nil }

// TestTwoNodesDrainOneQueue: two `mailhost serve` processes on one
// database share one queue through SKIP LOCKED and leases: every message
// reaches the relay host exactly once.
// waitQueueEmpty waits up to timeout for the queue to be empty and returns
// how many messages it still holds.
func waitQueueEmpty(t *testing.T, st *store.Store, timeout time.Duration) int {
	t.Helper()
	var left int
	testsupport.Poll(timeout, func() bool {
		if err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM queue`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		return left == 0
	})
	return left
}

func TestTwoNodesDrainOneQueue(t *testing.T) {
	url := testdb.New(t)
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const n = 200
	for i := 0; i < n; i++ {
		if _, err := st.Enqueue(ctx, store.QueuedMessage{Sender: "s@example.test", Origin: "submission",
			Body:       []byte(fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)),
			Recipients: []store.QueuedRecipient{{Address: fmt.Sprintf("r%d@remote.example", i), Domain: "remote.example"}}}); err != nil {
			t.Fatal(err)
		}
	}
	sink := &countingSink{seen: map[string]int{}}
	srv := smtp.NewServer(sink)
	srv.Domain = "sink.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	var nodes []*running
	for i := 0; i < 2; i++ {
		env := baseEnv("DATABASE_URL="+url, "MAILHOST_DATA_DIR="+dataDir(t), "MAILHOST_HOSTNAME=node.test",
			"MAILHOST_SMTP_RELAYHOST=[127.0.0.1]:"+fmt.Sprint(ln.Addr().(*net.TCPAddr).Port),
			"MAILHOST_QUEUE_WORKERS=4", "MAILHOST_DNS_RESOLVER=127.0.0.1:1")
		nodes = append(nodes, startServe(t, env))
	}
	if left := waitQueueEmpty(t, st, 90*time.Second); left != 0 {
		t.Fatalf("%d messages still queued\n%s\n%s", left, nodes[0].log, nodes[1].log)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.seen) != n {
		t.Fatalf("%d recipients delivered, want %d", len(sink.seen), n)
	}
	for r, c := range sink.seen {
		if c != 1 {
			t.Errorf("%s delivered %d times", r, c)
		}
	}
	perNode := []int{strings.Count(nodes[0].log.String(), "msg=delivered"), strings.Count(nodes[1].log.String(), "msg=delivered")}
	t.Logf("deliveries per node: %v", perNode)
	for _, r := range nodes {
		if code := r.stop(t); code != 0 {
			t.Errorf("serve exit %d", code)
		}
	}
}

// tarpitAfterData is a relay host that takes a whole message and then
// never answers: the worker talking to it is stuck mid-delivery.
func tarpitAfterData(t *testing.T) (addr string, gotDot chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	gotDot = make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				io.WriteString(c, "220 tarpit ESMTP\r\n")
				var acc strings.Builder
				inData := false
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					acc.Write(buf[:n])
					for {
						text := acc.String()
						if inData {
							if strings.Contains(text, "\r\n.\r\n") {
								gotDot <- struct{}{}
								io.Copy(io.Discard, c) // never answer, until the client is gone
								return
							}
							break
						}
						i := strings.Index(text, "\r\n")
						if i < 0 {
							break
						}
						line := strings.ToUpper(text[:i])
						acc.Reset()
						acc.WriteString(text[i+2:])
						switch {
						case strings.HasPrefix(line, "EHLO"):
							io.WriteString(c, "250-tarpit\r\n250 8BITMIME\r\n")
						case strings.HasPrefix(line, "DATA"):
							io.WriteString(c, "354 go on\r\n")
							inData = true
						default:
							io.WriteString(c, "250 ok\r\n")
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), gotDot
}

// TestKilledWorkerMessageDeliveredAfterRestart: serve is killed (-9)
// while its worker waits for the reply to a message's data. The message
// stays queued, and the next serve delivers it once the lease has run out.
func TestKilledWorkerMessageDeliveredAfterRestart(t *testing.T) {
	url := testdb.New(t)
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Enqueue(ctx, store.QueuedMessage{Sender: "s@example.test", Origin: "submission",
		Body:       []byte("Subject: survive\r\n\r\nbody\r\n"),
		Recipients: []store.QueuedRecipient{{Address: "r@remote.example", Domain: "remote.example"}}}); err != nil {
		t.Fatal(err)
	}
	tarpit, gotDot := tarpitAfterData(t)
	data := dataDir(t)
	env := baseEnv("DATABASE_URL="+url, "MAILHOST_DATA_DIR="+data, "MAILHOST_HOSTNAME=node.test",
		"MAILHOST_QUEUE_LEASE_SECONDS=10", "MAILHOST_DNS_RESOLVER=127.0.0.1:1")
	a := startServe(t, append(env, "MAILHOST_SMTP_RELAYHOST=["+strings.Replace(tarpit, ":", "]:", 1)))
	select {
	case <-gotDot:
	case <-time.After(30 * time.Second):
		t.Fatalf("the worker never sent the message:\n%s", a.log)
	}
	a.cmd.Process.Kill()
	<-a.exited
	var owner string
	if err := st.Pool().QueryRow(ctx, `SELECT lease_owner FROM queue_recipients`).Scan(&owner); err != nil || owner == "" {
		t.Fatalf("after the kill: lease owner %q, %v (the message must still be queued and leased)", owner, err)
	}

	sink := &countingSink{seen: map[string]int{}}
	srv := smtp.NewServer(sink)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	b := startServe(t, append(env, "MAILHOST_SMTP_RELAYHOST="+"[127.0.0.1]:"+fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)))
	if left := waitQueueEmpty(t, st, 60*time.Second); left != 0 {
		t.Fatalf("not delivered after the lease:\n%s", b.log)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.seen["r@remote.example"] != 1 {
		t.Fatalf("sink got %v", sink.seen)
	}
	b.stop(t)
}
