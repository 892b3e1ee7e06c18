package smtpd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// replyText is a refusal as the client reads it, "" for none.
func replyText(e *SMTPError) string {
	if e == nil {
		return ""
	}
	return fmt.Sprintf("%d %d.%d.%d %s", e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2], e.Message)
}

func TestParseCommand(t *testing.T) {
	cases := []struct{ line, verb, arg string }{
		{"MAIL FROM:<a@b>", "MAIL", "FROM:<a@b>"},
		{"mail  from:<a@b>  ", "MAIL", "from:<a@b>"},
		{"QUIT", "QUIT", ""},
		{"ehlo x y", "EHLO", "x y"},
		{"", "", ""},
		{" NOOP", "", ""},
		{"X-1 foo", "", ""},
		{"\x00NOOP", "", ""},
	}
	for _, c := range cases {
		got := ParseCommand(c.line)
		if got.Verb != c.verb || got.Arg != c.arg {
			t.Errorf("ParseCommand(%q) = %+v, want %q %q", c.line, got, c.verb, c.arg)
		}
	}
}

func TestParseMail(t *testing.T) {
	auth := func(s string) *string { return &s }
	cases := []struct {
		arg  string
		from string
		opts MailOptions
		err  string
	}{
		{"FROM:<a@b.example>", "a@b.example", MailOptions{}, ""},
		{"from: <a@b.example>", "a@b.example", MailOptions{}, ""},
		{"FROM:a@b.example", "a@b.example", MailOptions{}, ""},
		{"FROM:<>", "", MailOptions{}, ""},
		{"FROM:<@r1,@r2:a@b.example>", "a@b.example", MailOptions{}, ""},
		{`FROM:<"a b"@c.example>`, "a b@c.example", MailOptions{}, ""},
		{"FROM:<a@b> SIZE=100 BODY=8bitmime SMTPUTF8 RET=hdrs ENVID=x+2By AUTH=<>", "a@b",
			MailOptions{Size: 100, Body: Body8BitMIME, UTF8: true, Return: DSNReturnHeaders, EnvelopeID: "x+y", Auth: auth("")}, ""},
		{"FROM:<a@b> size=1000", "", MailOptions{}, "552 5.3.4 Message size exceeds fixed limit"},
		{"FROM:<a@b> SIZE=-1", "", MailOptions{}, "501 5.5.4 Bad message size syntax"},
		{"FROM:<a@b> RET=ALL", "", MailOptions{}, "501 5.5.4 Bad RET parameter syntax"},
		{"FROM:<a@b> ENVID=+2", "", MailOptions{}, "501 5.5.4 Bad ENVID parameter syntax"},
		{"FROM:<a@b> REQUIRETLS", "", MailOptions{}, "555 5.5.4 Unsupported option: REQUIRETLS"},
		{"FROM:<a@b> SMTPUTF8=yes", "", MailOptions{}, "555 5.5.4 Unsupported option: SMTPUTF8=yes"},
		{"FROM:<a@b> AUTH=x@y AUTH=<>", "", MailOptions{}, "503 5.5.4 Error: multiple AUTH= options"},
		{"FROM:<a@b>SIZE=1", "", MailOptions{}, "501 5.5.4 Syntax: MAIL FROM:<address>"},
		{"FROM:<a@b", "", MailOptions{}, "501 5.5.4 Syntax: MAIL FROM:<address>"},
		{"FROM:<@b>", "", MailOptions{}, "501 5.5.4 Syntax: MAIL FROM:<address>"},
		{"FROM:<a@>", "", MailOptions{}, "501 5.5.4 Syntax: MAIL FROM:<address>"},
		{"FROM:<a>", "", MailOptions{}, "501 5.5.4 Syntax: MAIL FROM:<address>"},
		{"TO:<a@b>", "", MailOptions{}, "501 5.5.4 Syntax: MAIL FROM:<address>"},
	}
	for _, c := range cases {
		from, opts, err := ParseMail(c.arg, 999)
		if c.err != "" {
			if replyText(err) != c.err {
				t.Errorf("ParseMail(%q): %v, want %s", c.arg, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseMail(%q): %v", c.arg, err)
			continue
		}
		got, want := *opts, c.opts
		got.Auth, want.Auth = nil, nil
		if from != c.from || got != want || (opts.Auth == nil) != (c.opts.Auth == nil) || opts.Auth != nil && *opts.Auth != *c.opts.Auth {
			t.Errorf("ParseMail(%q) = %q %+v %v, want %q %+v", c.arg, from, opts, err, c.from, c.opts)
		}
	}
}

func TestParseRcpt(t *testing.T) {
	cases := []struct {
		arg, to, notify, orcpt string
		err                    string
	}{
		{"TO:<b@c.example>", "b@c.example", "[]", "", ""},
		{"TO:<Postmaster>", "Postmaster", "[]", "", ""},
		{"TO:<b@c> NOTIFY=success,delay ORCPT=rfc822;x+2By@z", "b@c", "[SUCCESS DELAY]", "RFC822 x+y@z", ""},
		{`TO:<b@c> ORCPT=utf-8;j\x{E9}r\x{F4}me@z`, "b@c", "[]", "UTF-8 jérôme@z", ""},
		{"TO:<b@c> NOTIFY=NEVER,SUCCESS", "", "", "", "501 5.5.4 Error: Bad NOTIFY parameter syntax"},
		{"TO:<b@c> NOTIFY=FAILURE,FAILURE", "", "", "", "501 5.5.4 Error: Bad NOTIFY parameter syntax"},
		{"TO:<b@c> ORCPT=x400;a", "", "", "", "501 5.5.4 Error: Bad ORCPT parameter syntax"},
		{"TO:<b@c> ORCPT=rfc822;a+zz", "", "", "", "501 5.5.4 Error: Bad ORCPT parameter syntax"},
		{"TO:<b@c> FOO", "", "", "", "555 5.5.4 Unsupported option: FOO"},
		{"TO:postmaster", "", "", "", "501 5.5.4 Syntax: RCPT TO:<address>"},
		{"FROM:<b@c>", "", "", "", "501 5.5.4 Syntax: RCPT TO:<address>"},
	}
	for _, c := range cases {
		to, opts, err := ParseRcpt(c.arg)
		if c.err != "" {
			if replyText(err) != c.err {
				t.Errorf("ParseRcpt(%q): %v, want %s", c.arg, err, c.err)
			}
			continue
		}
		orcpt := ""
		if err == nil && opts.OriginalRecipient != "" {
			orcpt = string(opts.OriginalRecipientType) + " " + opts.OriginalRecipient
		}
		if err != nil || to != c.to || fmt.Sprint(opts.Notify) != c.notify || orcpt != c.orcpt {
			t.Errorf("ParseRcpt(%q) = %q %+v %v", c.arg, to, opts, err)
		}
	}
}

// unstuff is the reference for dataReader: lines split after LF, the end
// at a line ".\r\n", a leading dot removed from the others.
func unstuff(in string) (string, bool) {
	var b strings.Builder
	for _, l := range strings.SplitAfter(in, "\n") {
		if l == ".\r\n" {
			return b.String(), true
		}
		if !strings.HasSuffix(l, "\n") {
			return b.String(), false // no end marker
		}
		b.WriteString(strings.TrimPrefix(l, "."))
	}
	return b.String(), false
}

// readData runs dataReader over in, with bufio's smallest buffer so that
// long lines come in pieces.
func readData(in string) (string, error) {
	d := newDataReader(bufio.NewReaderSize(strings.NewReader(in), 16), 0, 0)
	out, err := io.ReadAll(d)
	return string(out), err
}

func TestDataReader(t *testing.T) {
	for _, in := range []string{
		"a\r\n.\r\n",
		"..x\r\n.\r\n",
		"a very long line, longer than the sixteen octets of the buffer\r\n.leading dot after it\r\n.\r\nnext",
		"x\r\n. \r\n.\r\n",
		"no end\r\n",
		".\r\n",
		"a long line that ends in a dot line split over .\r\n.\r\n",
	} {
		want, ended := unstuff(in)
		got, err := readData(in)
		if ended && err != nil || !ended && !errors.Is(err, io.ErrUnexpectedEOF) || got != want {
			t.Errorf("%q: %q %v, want %q (end %v)", in, got, err, want, ended)
		}
	}
}

// TestDataReaderLimits: the size and line limits end the read with their
// errors, and drain finds the end marker after a size error.
func TestDataReaderLimits(t *testing.T) {
	d := newDataReader(bufio.NewReader(strings.NewReader("0123456789\r\n0123456789\r\n.\r\nNOOP\r\n")), 15, 0)
	if _, err := io.ReadAll(d); !errors.Is(err, ErrDataTooLarge) {
		t.Errorf("size: %v", err)
	}
	if !d.drain() {
		t.Error("drain did not reach the end")
	}
	if rest, _ := io.ReadAll(d.r); string(rest) != "NOOP\r\n" {
		t.Errorf("after the message: %q", rest)
	}
	d = newDataReader(bufio.NewReader(strings.NewReader("0123456789\r\n.\r\n")), 0, 11)
	if _, err := io.ReadAll(d); !errors.Is(err, ErrTooLongLine) {
		t.Errorf("line: %v", err)
	}
	if d.drain() {
		t.Error("drain went on after a long line")
	}
}
