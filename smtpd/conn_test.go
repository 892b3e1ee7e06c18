package smtpd

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailhost/sasl"
)

// fakeBackend records what the protocol layer tells it.
type fakeBackend struct {
	mu       sync.Mutex
	refusals []Refusal
	messages []string
	auth     bool // sessions offer AUTH PLAIN
}

func (b *fakeBackend) NewSession(c *Conn) (Session, error) {
	if c.Hostname() == "bad" {
		return nil, &SMTPError{Code: 501, EnhancedCode: EnhancedCode{5, 5, 2}, Message: "bad name"}
	}
	s := &fakeSession{b: b}
	if b.auth {
		return &fakeAuthSession{s}, nil
	}
	return s, nil
}

func (b *fakeBackend) Refused(_ *Conn, r Refusal) *SMTPError {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refusals = append(b.refusals, r)
	return r.Reply
}

func (b *fakeBackend) reasons() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, r := range b.refusals {
		out = append(out, r.Command+":"+r.Reason)
	}
	return out
}

type fakeSession struct {
	b    *fakeBackend
	from string
}

func (s *fakeSession) Mail(from string, _ *MailOptions) error {
	if from == "refused@x.test" {
		return &SMTPError{Code: 550, EnhancedCode: EnhancedCode{5, 7, 1}, Message: "no"}
	}
	if from == "broken@x.test" {
		return errors.New("database down: secret detail")
	}
	s.from = from
	return nil
}

func (s *fakeSession) Rcpt(to string, _ *RcptOptions) error {
	if strings.HasPrefix(to, "unknown@") {
		return &SMTPError{Code: 550, EnhancedCode: EnhancedCode{5, 1, 1}, Message: "User unknown"}
	}
	return nil
}

func (s *fakeSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if errors.Is(err, ErrDataTooLarge) {
		return ErrSizeExceeded
	}
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	s.b.messages = append(s.b.messages, string(b))
	s.b.mu.Unlock()
	return &SMTPError{Code: 250, EnhancedCode: EnhancedCode{2, 0, 0}, Message: "Ok: queued as X"}
}

func (s *fakeSession) Reset()        { s.from = "" }
func (s *fakeSession) Logout() error { return nil }

type fakeAuthSession struct{ *fakeSession }

func (s *fakeAuthSession) AuthMechanisms() []string { return []string{"PLAIN"} }

func (s *fakeAuthSession) Auth(mech string) (sasl.Server, error) {
	srv, err := sasl.NewServer(mech, func(c sasl.Credentials) error {
		if c.Password != "secret" {
			return ErrAuthFailed
		}
		return nil
	}, nil)
	if err != nil {
		return nil, ErrAuthUnknownMechanism
	}
	return srv, nil
}

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes *atomic.Int32
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

type testServer struct {
	srv    *Server
	b      *fakeBackend
	addr   string
	writes atomic.Int32
}

func newTestServer(t *testing.T, configure func(*Server)) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{b: &fakeBackend{}, addr: l.Addr().String()}
	ts.srv = &Server{Hostname: "mx.test", Backend: ts.b, MaxMessageBytes: 100, MaxRecipients: 2,
		MaxLineLength: 1000, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	if configure != nil {
		configure(ts.srv)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go ts.srv.ServeConn(countingConn{c, &ts.writes})
		}
	}()
	t.Cleanup(func() { l.Close(); ts.srv.Close() })
	return ts
}

// session sends script (lines joined with CRLF) at once, half-closes,
// and returns every reply line the server sent.
func (ts *testServer) session(t *testing.T, script ...string) []string {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, strings.Join(script, "\r\n")+"\r\n")
	c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(c)
	return strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n")
}

// TestReplies: each reply in Postfix's words (issue 17).
func TestReplies(t *testing.T) {
	ts := newTestServer(t, nil)
	long := strings.Repeat("a", 1001)
	cases := []struct {
		name   string
		script []string
		want   []string // the replies after the greeting (and EHLO's, when the script starts with EHLO)
		reason string   // the refusal Refused heard, "" when none
	}{
		{"mail rcpt data", []string{"EHLO c", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA", "Hi", "..dot", ".", "QUIT"},
			[]string{"250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as X", "221 2.0.0 Bye"}, ""},
		{"helo", []string{"HELO c"}, []string{"250 mx.test"}, ""},
		{"helo without a name", []string{"HELO"}, []string{"501 Syntax: HELO hostname"}, "HELO:bad_syntax"},
		{"refused helo name", []string{"EHLO bad", "EHLO good"}, []string{"501 5.5.2 bad name", "250-mx.test"}, ""},
		{"rset noop", []string{"EHLO c", "RSET", "NOOP"}, []string{"250 2.0.0 Ok", "250 2.0.0 Ok"}, ""},
		{"mail before helo", []string{"MAIL FROM:<a@x.test>"}, []string{"503 5.5.1 Error: send HELO/EHLO first"}, "MAIL:bad_sequence"},
		{"rcpt before mail", []string{"EHLO c", "RCPT TO:<b@x.test>"}, []string{"503 5.5.1 Error: need MAIL command"}, "RCPT:bad_sequence"},
		{"data before mail", []string{"EHLO c", "DATA"}, []string{"503 5.5.1 Error: need RCPT command"}, "DATA:bad_sequence"},
		{"data without recipients", []string{"EHLO c", "MAIL FROM:<a@x.test>", "RCPT TO:<unknown@x.test>", "DATA"},
			[]string{"250 2.1.0 Ok", "550 5.1.1 User unknown", "554 5.5.1 Error: no valid recipients"}, "DATA:bad_sequence"},
		{"nested mail", []string{"EHLO c", "MAIL FROM:<a@x.test>", "MAIL FROM:<b@x.test>"},
			[]string{"250 2.1.0 Ok", "503 5.5.1 Error: nested MAIL command"}, "MAIL:nested_mail"},
		{"unknown command", []string{"EHLO c", "HELP"}, []string{"500 5.5.2 Error: command not recognized"}, "HELP:unknown_command"},
		{"not a verb", []string{"EHLO c", "X-1 foo"}, []string{"500 5.5.2 Error: command not recognized"}, ":unknown_command"},
		{"http", []string{"EHLO c", "GET / HTTP/1.0", "NOOP"}, []string{"221 2.7.0 Error: I can break rules, too. Goodbye."}, "GET:forbidden_command"},
		{"binary", []string{"EHLO c", "\x16\x03\x01", "NOOP"}, []string{"221 2.7.0 Error: I can break rules, too. Goodbye."}, ":forbidden_command"},
		{"star after AUTH", []string{"EHLO c", "*", "NOOP"}, []string{"500 5.5.2 Error: command not recognized", "250 2.0.0 Ok"}, ":unknown_command"},
		{"empty line", []string{"EHLO c", ""}, []string{"500 5.5.2 Error: bad syntax"}, ":bad_syntax"},
		{"mail syntax", []string{"EHLO c", "MAIL TO:<a@x.test>"}, []string{"501 5.5.4 Syntax: MAIL FROM:<address>"}, "MAIL:bad_syntax"},
		{"rcpt syntax", []string{"EHLO c", "MAIL FROM:<>", "RCPT TO:<b>"}, []string{"250 2.1.0 Ok", "501 5.5.4 Syntax: RCPT TO:<address>"}, "RCPT:bad_syntax"},
		{"size at MAIL", []string{"EHLO c", "MAIL FROM:<a@x.test> SIZE=101"}, []string{"552 5.3.4 Message size exceeds fixed limit"}, "MAIL:size"},
		{"size syntax", []string{"EHLO c", "MAIL FROM:<a@x.test> SIZE=big"}, []string{"501 5.5.4 Bad message size syntax"}, "MAIL:bad_parameter"},
		{"unknown parameter", []string{"EHLO c", "MAIL FROM:<a@x.test> BODY=BINARYMIME"}, []string{"555 5.5.4 Unsupported option: BODY=BINARYMIME"}, "MAIL:bad_parameter"},
		{"too many recipients", []string{"EHLO c", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "RCPT TO:<c@x.test>", "RCPT TO:<d@x.test>"},
			[]string{"250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "452 4.5.3 Error: too many recipients"}, "RCPT:too_many_recipients"},
		{"message too big", []string{"EHLO c", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA", strings.Repeat("x", 98), strings.Repeat("y", 98), ".", "NOOP"},
			[]string{"250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>", "552 5.3.4 Message size exceeds fixed limit", "250 2.0.0 Ok"}, ""},
		{"line too long", []string{"EHLO c", long, "NOOP"}, []string{"500 5.5.0 Error: line too long"}, ":line_too_long"},
		{"session error hidden", []string{"EHLO c", "MAIL FROM:<broken@x.test>"}, []string{"451 4.3.0 Error: queue file write error"}, ""},
		{"vrfy", []string{"EHLO c", "VRFY bob"}, []string{"252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery"}, ""},
		{"starttls without tls", []string{"EHLO c", "STARTTLS"}, []string{"502 5.5.1 Error: command not implemented"}, "STARTTLS:unknown_command"},
		{"auth not offered", []string{"EHLO c", "AUTH PLAIN"}, []string{"503 5.5.1 Error: authentication not enabled"}, "AUTH:bad_sequence"},
		{"bdat", []string{"EHLO c", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "BDAT 4", "abcdBDAT 2 LAST", "efQUIT"},
			[]string{"250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: 4 bytes", "250 2.0.0 Ok: queued as X", "221 2.0.0 Bye"}, ""},
		{"bdat too big", []string{"EHLO c", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "BDAT 101 LAST", strings.Repeat("z", 99), "NOOP"},
			[]string{"250 2.1.0 Ok", "250 2.1.5 Ok", "552 5.3.4 Message size exceeds fixed limit", "250 2.0.0 Ok"}, "BDAT:size"},
		{"data after bdat", []string{"EHLO c", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "BDAT 1", "xDATA"},
			[]string{"250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: 1 bytes", "503 5.5.1 Error: DATA after BDAT"}, "DATA:bad_sequence"},
		{"bdat syntax", []string{"EHLO c", "BDAT x", "NOOP"}, []string{"521 5.5.4 Syntax: BDAT count [LAST]"}, "BDAT:bad_syntax"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(ts.b.reasons())
			got := ts.session(t, tc.script...)
			if len(got) == 0 || got[0] != "220 mx.test ESMTP mailhost" {
				t.Fatalf("greeting: %q", got)
			}
			got = got[1:]
			if strings.HasPrefix(tc.script[0], "EHLO c") {
				got = got[len(ts.ehlo())-0:]
			}
			if len(got) < len(tc.want) {
				t.Fatalf("replies %q, want %q", got, tc.want)
			}
			for i, w := range tc.want {
				if got[i] != w {
					t.Errorf("reply %d: %q, want %q", i, got[i], w)
				}
			}
			if extra := got[len(tc.want):]; len(extra) > 0 && tc.want[len(tc.want)-1] != "250-mx.test" {
				t.Errorf("more replies than expected: %q", extra)
			}
			reasons := ts.b.reasons()[before:]
			if tc.reason == "" && len(reasons) > 0 || tc.reason != "" && (len(reasons) != 1 || reasons[0] != tc.reason) {
				t.Errorf("refusals %q, want %q", reasons, tc.reason)
			}
		})
	}
}

func (ts *testServer) ehlo() []string {
	return []string{"250-mx.test", "250-PIPELINING", "250-SIZE 100", "250-ENHANCEDSTATUSCODES", "250-8BITMIME",
		"250-DSN", "250-SMTPUTF8", "250-CHUNKING", "250 LIMITS RCPTMAX=2"}
}

// TestEHLOKeywords: the EHLO reply names the host first, as Postfix's.
func TestEHLOKeywords(t *testing.T) {
	ts := newTestServer(t, nil)
	got := ts.session(t, "EHLO c")[1:]
	if want := ts.ehlo(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("EHLO reply %q, want %q", got, want)
	}
}

// TestDotUnstuffing: a leading dot is removed (RFC 5321 4.5.2), a line
// holding "." alone ends the message, and ".\n" without CR does not
// (it loses its dot as any other line).
func TestDotUnstuffing(t *testing.T) {
	ts := newTestServer(t, func(s *Server) { s.MaxMessageBytes = 0 })
	ts.session(t, "EHLO c", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA",
		".leading", "..two", "mid.dle", ".\nstill in", ".")
	if len(ts.b.messages) != 1 || ts.b.messages[0] != "leading\r\n.two\r\nmid.dle\r\n\nstill in\r\n" {
		t.Errorf("messages %q", ts.b.messages)
	}
}

// TestPipeliningOneWrite: the replies to a pipelined batch go out in one
// write once the batch is read (RFC 2920 3.2), not one write per reply.
func TestPipeliningOneWrite(t *testing.T) {
	ts := newTestServer(t, nil)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	r.ReadString('\n') // the greeting
	before := ts.writes.Load()
	io.WriteString(c, "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nRSET\r\n")
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l == "250 2.0.0 Ok\r\n" {
			break
		}
	}
	if n := ts.writes.Load() - before; n != 1 {
		t.Errorf("%d writes for one pipelined batch, want 1", n)
	}
}

// TestTimeout: a silent client gets Postfix's 421 and the connection ends.
func TestTimeout(t *testing.T) {
	ts := newTestServer(t, func(s *Server) { s.ReadTimeout = 200 * time.Millisecond })
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(c)
	if got := string(b); got != "220 mx.test ESMTP mailhost\r\n421 4.4.2 mx.test Error: timeout exceeded\r\n" {
		t.Errorf("replies %q", got)
	}
	if r := ts.b.reasons(); len(r) != 1 || r[0] != ":timeout" {
		t.Errorf("refusals %q", r)
	}
}

// TestAuthExchange: AUTH through the sasl package, with Postfix's replies
// for what the lines get wrong.
func TestAuthExchange(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.b.auth = true
	plain := "AHVzZXIAc2VjcmV0" // \0user\0secret
	cases := []struct {
		name   string
		script []string
		want   []string
	}{
		{"initial response", []string{"AUTH PLAIN " + plain, "AUTH PLAIN " + plain},
			[]string{"235 2.7.0 Authentication successful", "503 5.5.1 Error: already authenticated"}},
		{"challenge", []string{"AUTH PLAIN", plain}, []string{"334 ", "235 2.7.0 Authentication successful"}},
		{"cancel", []string{"AUTH PLAIN", "*"}, []string{"334 ", "501 5.7.0 Authentication aborted"}},
		{"bad base64", []string{"AUTH PLAIN", "!!"}, []string{"334 ", "501 5.5.2 Invalid base64 data in continued response"}},
		{"bad initial base64", []string{"AUTH PLAIN !!"}, []string{"501 5.5.2 Invalid base64 data in initial response"}},
		{"wrong password", []string{"AUTH PLAIN AHVzZXIAd3Jvbmc="}, []string{"535 5.7.8 Error: authentication failed"}},
		{"unknown mechanism", []string{"AUTH X-FOO"}, []string{"504 5.5.4 Unrecognized authentication type"}},
		{"no mechanism", []string{"AUTH"}, []string{"501 5.5.4 Syntax: AUTH mechanism"}},
		{"in a transaction", []string{"MAIL FROM:<a@x.test>", "AUTH PLAIN"}, []string{"250 2.1.0 Ok", "503 5.5.1 Error: MAIL transaction in progress"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ts.session(t, append([]string{"EHLO c"}, tc.script...)...)
			if !contains(got, "250-AUTH PLAIN") {
				t.Errorf("EHLO without AUTH: %q", got)
			}
			got = got[1+len(ts.ehlo())+1:]
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("replies %q, want %q", got, tc.want)
			}
		})
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

// TestStartTLS: STARTTLS, then the client must say EHLO again; clear
// text sent after STARTTLS is dropped (RFC 3207 6).
func TestStartTLS(t *testing.T) {
	ts := newTestServer(t, func(s *Server) { s.TLSConfig = testTLSConfig(t) })
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	r.ReadString('\n')
	io.WriteString(c, "EHLO c\r\nSTARTTLS\r\nMAIL FROM:<injected@x.test>\r\n")
	var lines []string
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
		if strings.HasPrefix(l, "220 ") {
			break
		}
	}
	if !contains(lines, "250-STARTTLS\r\n") || lines[len(lines)-1] != "220 2.0.0 Ready to start TLS\r\n" {
		t.Fatalf("replies %q", lines)
	}
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	tr := bufio.NewReader(tc)
	io.WriteString(tc, "MAIL FROM:<a@x.test>\r\nEHLO c\r\nSTARTTLS\r\nQUIT\r\n")
	var after []string
	for {
		l, err := tr.ReadString('\n')
		if err != nil {
			break
		}
		after = append(after, strings.TrimSuffix(l, "\r\n"))
	}
	if len(after) < 3 || after[0] != "503 5.5.1 Error: send HELO/EHLO first" || contains(after, "250-STARTTLS") ||
		after[len(after)-2] != "554 5.5.1 Error: TLS already active" || after[len(after)-1] != "221 2.0.0 Bye" {
		t.Errorf("replies under TLS %q", after)
	}
}
