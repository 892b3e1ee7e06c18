package imapwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzReadCommand feeds the parser any bytes: it reads commands until
// the input ends, skipping what it refuses as a server does, and must
// neither panic nor loop. Sequence sets it reads come out of String as
// they went in.
func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{
		"a NOOP\r\n", "a LOGIN {3+}\r\nbob \"pw\"\r\n", "a UID FETCH 1:*,$ (BODY.PEEK[1.2.MIME]<5.10> BINARY.SIZE[2])\r\n",
		"a SEARCH OR (NOT FROM x) UID 1:* HEADER Subject {2}\r\nhi\r\n", "a APPEND x (\\Seen) {2}\r\nab ~{1}\r\n\x00\r\n",
		"a STORE 1 (UNCHANGEDSINCE 3) -FLAGS (\\Deleted)\r\n", "a SELECT x (QRESYNC (1 2 1:3 (1:2 3:4)))\r\n",
		"a LIST (REMOTE) \"\" (% *) RETURN (STATUS (SIZE))\r\n", "a \"open\r\n", "a LOGIN {99999999}\r\n",
		"a UID SORT RETURN (PARTIAL -1:-5 MIN) (REVERSE DATE SUBJECT) UTF-8 NOT SEEN\r\n", "a THREAD REFERENCES UTF-8 1:*\r\n",
		"a SEARCH RETURN (UPDATE CONTEXT PARTIAL 1:9) UNSEEN\r\n", "a CANCELUPDATE \"a\" \"b\"\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bufio.NewReader(bytes.NewReader(data)))
		d.MaxLiteral = 1 << 16
		for range 64 {
			c, err := d.ReadCommand()
			if err == nil && c.Name == "APPEND" {
				err = drainAppend(d)
			}
			if err == nil {
				if fe, ok := c.Args.(*Fetch); ok {
					checkSet(t, fe.Set)
				}
				continue
			}
			var se *SyntaxError
			var le *LiteralError
			if errors.As(err, &se) || errors.As(err, &le) && !le.NonSync {
				if d.DiscardLine() != nil {
					return
				}
				continue
			}
			return
		}
	})
}

func drainAppend(d *Decoder) error {
	for first := true; ; first = false {
		m, nonSync, err := d.NextAppend(first)
		if err != nil || m == nil {
			return err
		}
		if err := d.CheckLiteral(m.Size, nonSync, 1<<16); err != nil {
			return err
		}
		r, _ := d.LiteralBody(m.Size, nonSync)
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
	}
}

func checkSet(t *testing.T, s NumSet) {
	back, err := ParseNumSet(s.String())
	if err != nil || back.String() != s.String() {
		t.Fatalf("set %q read back as %q: %v", s.String(), back.String(), err)
	}
}

// FuzzQuoting: what the writer writes as a string, an astring or a
// mailbox name, the parser reads back equal.
func FuzzQuoting(f *testing.F) {
	for _, s := range []string{"", "NIL", "a b", `q"uote\`, "line\r\nbreak", "Réunions", "&", "x]y", strings.Repeat("z", 2000)} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, utf8On bool) {
		if strings.IndexByte(s, 0) >= 0 {
			return // no IMAP string holds NUL (literal8 aside)
		}
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		e := NewEncoder(w)
		e.UTF8 = utf8On
		e.AString(s).SP().String(s).SP().NString(s).SP().Mailbox(s).CRLF()
		if err := e.Flush(); err != nil {
			t.Fatal(err)
		}
		d := NewDecoder(bufio.NewReader(&buf))
		d.MaxLiteral = 1 << 20
		a, err := d.AString()
		if err != nil || a != s {
			t.Fatalf("astring %q read back %q %v (%q)", s, a, err, buf.String())
		}
		d.SP()
		if b, err := d.String(); err != nil || b != s {
			t.Fatalf("string %q read back %q %v", s, b, err)
		}
		d.SP()
		if n, isNil, err := d.NString(); err != nil || n != s || isNil != (s == "") {
			t.Fatalf("nstring %q read back %q %v %v", s, n, isNil, err)
		}
		d.SP()
		m, err := d.AString()
		if err != nil {
			t.Fatal(err)
		}
		if !utf8On && s != "INBOX" && utf8.ValidString(s) && !strings.ContainsRune(s, utf8.RuneError) {
			if m, err = DecodeMailbox(m); err != nil {
				t.Fatalf("mailbox %q: %v", s, err)
			}
		}
		if utf8.ValidString(s) && !strings.ContainsRune(s, utf8.RuneError) && m != s {
			t.Fatalf("mailbox %q read back %q", s, m)
		}
		if err := d.CRLF(); err != nil {
			t.Fatal(err)
		}
	})
}
