package smtpd

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzParseCommand: no command line makes the parser panic, a verb is
// letters in upper case, and what MAIL and RCPT accept is a path that
// parses again to itself.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x+2By AUTH=<>",
		"RCPT TO:<b@c> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x+2By@z",
		`RCPT TO:<b@c> ORCPT=utf-8;j\x{E9}r\x{F4}me@z`,
		`MAIL FROM:<"quoted \" local"@x> SIZE=99999999999999999999`,
		"RCPT TO:<@r1,@r2:a@b>",
		"RCPT TO:<Postmaster>",
		"EHLO mx.example",
		"BDAT 100 LAST",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd := ParseCommand(line)
		if strings.ToUpper(cmd.Verb) != cmd.Verb || strings.ContainsAny(cmd.Verb, " \r\n") {
			t.Fatalf("verb %q", cmd.Verb)
		}
		switch cmd.Verb {
		case "MAIL":
			from, opts, err := ParseMail(cmd.Arg, 1000)
			if err == nil && (opts == nil || opts.Size > 1000) {
				t.Fatalf("MAIL accepted %+v", opts)
			}
			if err == nil && from != "" && !strings.ContainsAny(from, "\"\\ \t()<>[]:;,") {
				if again, _, e := ParseMail("FROM:<"+from+">", 0); e != nil || again != from {
					t.Fatalf("%q parses to %q, then %q %v", line, from, again, e)
				}
			}
		case "RCPT":
			to, opts, err := ParseRcpt(cmd.Arg)
			if err == nil && (opts == nil || to == "") {
				t.Fatalf("RCPT accepted %q %+v", to, opts)
			}
		}
	})
}

// FuzzDataReader: dataReader agrees with the reference unstuffing on any
// input, however the buffer cuts the lines.
func FuzzDataReader(f *testing.F) {
	for _, s := range []string{"a\r\n.\r\n", "..x\r\n.\r\n", "a long line over sixteen octets\r\n..\r\n.\r\n", ".\n.\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		want, ended := unstuff(in)
		got, err := readData(in)
		// Cut off: what was read of a last, unended line may come out.
		if ended && got != want || !ended && !strings.HasPrefix(got, want) ||
			ended != (err == nil) || !ended && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%q: %q %v, want %q (end %v)", in, got, err, want, ended)
		}
	})
}
