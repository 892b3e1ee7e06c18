package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/auth"
	"mailhost/store"
	"mailhost/testdb"
)

// TestServePOP3 runs a real `mailhost serve`: a message received over SMTP
// is downloaded and deleted over POP3S, the old password hash is upgraded
// by the login, and /metrics counts the session.
func TestServePOP3(t *testing.T) {
	url := testdb.New(t)
	smtpAddr, pop3Addr, pop3sAddr := freePort(t), freePort(t), freePort(t)
	env := baseEnv("DATABASE_URL="+url, "MAILHOST_DATA_DIR="+dataDir(t), "MAILHOST_HOSTNAME=mx.test",
		"MAILHOST_LISTEN_SMTP="+smtpAddr, "MAILHOST_LISTEN_POP3="+pop3Addr, "MAILHOST_LISTEN_POP3S="+pop3sAddr)
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO domains (name) VALUES ('pop.test');
		INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
		SELECT id, 'alice', 'alice@pop.test', '{PLAIN}secret', 'pop.test/alice/' FROM domains`); err != nil {
		t.Fatal(err)
	}
	r := startServe(t, env)

	c, err := smtp.Dial(smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("bob@remote.example", []string{"alice@pop.test"},
		strings.NewReader("Subject: over pop3\r\n\r\nhello\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// POP3 in clear from loopback is allowed by default; POP3S always.
	conn, err := tls.Dial("tcp", pop3sAddr, &tls.Config{InsecureSkipVerify: true}) // self-signed
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	say := func(cmd, want string) string {
		t.Helper()
		if cmd != "" {
			io.WriteString(conn, cmd+"\r\n")
		}
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		l, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(l, want) {
			t.Fatalf("%q: %q, %v; want %q\n%s", cmd, l, err, want, r.log)
		}
		return l
	}
	say("", "+OK mx.test POP3 server ready.")
	say("USER alice@pop.test", "+OK")
	say("PASS secret", "+OK Logged in.")
	say("STAT", "+OK 1 ")
	say("RETR 1", "+OK")
	var msg strings.Builder
	for {
		l := say("", "")
		if l == ".\r\n" {
			break
		}
		msg.WriteString(l)
	}
	if !strings.Contains(msg.String(), "Subject: over pop3\r\n") || !strings.HasSuffix(msg.String(), "\r\nhello\r\n") {
		t.Fatalf("RETR 1 = %q", msg.String())
	}
	say("DELE 1", "+OK")
	say("QUIT", "+OK Logging out, 1 messages deleted.")

	var rows, used int64
	var hash string
	if err := st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM messages), used_bytes, password FROM mailboxes`).Scan(&rows, &used, &hash); err != nil {
		t.Fatal(err)
	}
	if rows != 0 || used != 0 {
		t.Fatalf("after DELE and QUIT: %d rows, %d bytes used", rows, used)
	}
	if auth.Scheme(hash) != auth.SchemeArgon2ID {
		t.Fatalf("password hash after login: %q; want an ARGON2ID upgrade", hash)
	}
	resp, err := http.Get("http://" + r.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`mailhost_pop3_sessions_total{listener="pop3s"} 1`, `mailhost_auth_logins_total{protocol="pop3"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(r.log.String(), "secret") {
		t.Fatal("the password is in the log")
	}
}
