package mta_test

import (
	"bufio"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"
)

// smtpLines is a line-level SMTP conversation that reads whole replies.
type smtpLines struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialLines(t *testing.T, addr string) *smtpLines {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &smtpLines{t: t, c: c, br: bufio.NewReader(c)}
	r.reply("220 ")
	if got := r.cmd("EHLO laptop.home.lan"); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("EHLO: %q", got)
	}
	return r
}

// reply reads a reply and returns its last line (without CRLF).
func (r *smtpLines) reply(prefix string) string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		l, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("waiting for %q: %v (%q)", prefix, err, l)
		}
		l = strings.TrimSuffix(l, "\r\n")
		if len(l) >= 4 && l[3] == '-' {
			continue // a line of a multi-line reply
		}
		if !strings.HasPrefix(l, prefix) {
			r.t.Fatalf("got %q, want %q...", l, prefix)
		}
		return l
	}
}

func (r *smtpLines) cmd(line string) string {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.c.Write([]byte(line + "\r\n")); err != nil {
		r.t.Fatal(err)
	}
	return r.reply("")
}

// The SASL edge cases of the sasl package's table test, end to end over
// SMTP AUTH (RFC 4954) on a submission listener, each on a connection of
// its own, with the exact replies. smtpd answers two cases itself, as
// Postfix does: a response that is not base64 (501 5.5.2, RFC 4954 4)
// and a cancel (501 5.7.0).
func TestAuthEdgeCases(t *testing.T) {
	e := newSubEnv(t)
	const alice = "alice@example.test"
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	plain := b64("\x00" + alice + "\x00secret")

	const (
		ok        = "235 2.7.0 Authentication successful"
		failed    = "535 5.7.8 "
		authzid   = "535 5.7.8 Authentication failed: logging in as another user is not supported"
		malformed = "501 5.5.2 "
		tooLong   = "500 5.5.6 "
		cancelled = "501 5.7.0 Authentication aborted"                    // Postfix's
		notBase64 = "501 5.5.2 Invalid base64 data in continued response" // Postfix's; RFC 4954 4
	)
	type step struct{ send, want string }
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"initial response, empty authzid", []step{{"AUTH PLAIN " + plain, ok}}},
		{"no initial response", []step{{"AUTH PLAIN", "334 "}, {plain, ok}}},
		{"authzid equal to authcid after normalisation", []step{{"AUTH PLAIN " + b64("Alice@EXAMPLE.test\x00"+alice+"\x00secret"), ok}}},
		{"authzid differs", []step{{"AUTH PLAIN " + b64("bob@example.test\x00"+alice+"\x00secret"), authzid}}},
		{"wrong password", []step{{"AUTH PLAIN " + b64("\x00"+alice+"\x00wrong"), failed}}},
		{"cancel", []step{{"AUTH PLAIN", "334 "}, {"*", cancelled}}},
		{"empty initial response", []step{{"AUTH PLAIN =", malformed}}},
		{"empty response", []step{{"AUTH PLAIN", "334 "}, {"", malformed}}},
		{"initial response not base64", []step{{"AUTH PLAIN !!!notbase64", "501 5.5.2 Invalid base64 data in initial response"}}},
		{"response not base64", []step{{"AUTH PLAIN", "334 "}, {"AGFsaWNl=", notBase64}}},
		{"one NUL", []step{{"AUTH PLAIN " + b64(alice+"\x00secret"), malformed}}},
		{"three NULs", []step{{"AUTH PLAIN " + b64("\x00"+alice+"\x00secret\x00"), malformed}}},
		{"response over the SASL limit", []step{{"AUTH PLAIN", "334 "}, {b64("\x00" + alice + "\x00" + strings.Repeat("p", 3000)), tooLong}}},
		{"login", []step{{"AUTH LOGIN", "334 " + b64("Username:")}, {b64(alice), "334 " + b64("Password:")}, {b64("secret"), ok}}},
		{"login with the user as initial response", []step{{"AUTH LOGIN " + b64(alice), "334 " + b64("Password:")}, {b64("secret"), ok}}},
		{"login cancel", []step{{"AUTH LOGIN", "334 " + b64("Username:")}, {"*", cancelled}}},
		{"login empty user name", []step{{"AUTH LOGIN", "334 " + b64("Username:")}, {"=", malformed}}},
		{"login wrong password", []step{{"AUTH LOGIN " + b64(alice), "334 " + b64("Password:")}, {b64("wrong"), failed}}},
		{"unknown mechanism", []step{{"AUTH CRAM-MD5", "504 5.5.4 Unrecognized authentication type"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialLines(t, e.addr)
			for _, s := range tc.steps {
				if got := c.cmd(s.send); !strings.HasPrefix(got, s.want) {
					t.Fatalf("%.40s: got %q, want %q...", s.send, got, s.want)
				}
			}
			want := "530 5.7.0 " // the session goes on, not logged in
			if tc.steps[len(tc.steps)-1].want == ok {
				want = "250 "
			}
			if got := c.cmd("MAIL FROM:<" + alice + ">"); !strings.HasPrefix(got, want) {
				t.Fatalf("MAIL after AUTH: %q, want %q...", got, want)
			}
		})
	}

	// A response over the line limit (smtp.max_line_length) ends the
	// session.
	c := dialLines(t, e.addr)
	c.cmd("AUTH PLAIN")
	if got := c.cmd(strings.Repeat("A", 17000)); got != "500 5.5.0 Error: line too long" {
		t.Fatalf("over-long line: %q, want 500 5.5.0", got)
	}
}
