package pop3d

import (
	"bufio"
	"bytes"
	"io"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

// reference is the obvious in-memory version of writeMessage: split into
// lines at LF, drop a CR before the LF, stuff, join with CRLF.
func reference(msg string, bodyLines int) string {
	if msg == "" {
		return ".\r\n"
	}
	lines := strings.SplitAfter(msg, "\n")
	var b strings.Builder
	inHeader := true
	count := 0
	for _, l := range lines {
		if l == "" {
			continue
		}
		body := strings.TrimSuffix(l, "\n")
		ended := len(body) < len(l)
		if ended {
			body = strings.TrimSuffix(body, "\r")
		}
		if strings.HasPrefix(body, ".") || !ended && strings.HasPrefix(l, ".") {
			b.WriteByte('.')
		}
		b.WriteString(body)
		b.WriteString("\r\n")
		if bodyLines >= 0 {
			if inHeader {
				inHeader = body != ""
				if !inHeader && bodyLines == 0 {
					break
				}
			} else {
				count++
				if count >= bodyLines {
					break
				}
			}
		}
	}
	b.WriteString(".\r\n")
	return b.String()
}

func write(t testing.TB, msg string, bodyLines int) (string, int64) {
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	n, err := writeMessage(w, bufio.NewReaderSize(nil, readBufSize), strings.NewReader(msg), bodyLines)
	if err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return out.String(), n
}

func TestWriteMessage(t *testing.T) {
	long := strings.Repeat("x", readBufSize-1) // with its CR, the buffer is full right before the LF
	for _, tc := range []struct {
		name, in string
		lines    int
		want     string
	}{
		{"empty", "", -1, ".\r\n"},
		{"lf", "a: b\n\nbody\n", -1, "a: b\r\n\r\nbody\r\n.\r\n"},
		{"crlf kept", "a: b\r\n\r\nbody\r\n", -1, "a: b\r\n\r\nbody\r\n.\r\n"},
		{"no final newline", "a: b\n\nbody", -1, "a: b\r\n\r\nbody\r\n.\r\n"},
		{"stuffing", ".\n..\n.x\nx.\n", -1, "..\r\n...\r\n..x\r\nx.\r\n.\r\n"},
		{"bare cr kept", "a\rb\n", -1, "a\rb\r\n.\r\n"},
		{"lone dot last", "x\n.", -1, "x\r\n..\r\n.\r\n"},
		{"top 0", "h: 1\nh: 2\n\nb1\nb2\n", 0, "h: 1\r\nh: 2\r\n\r\n.\r\n"},
		{"top 1", "h: 1\n\nb1\nb2\n", 1, "h: 1\r\n\r\nb1\r\n.\r\n"},
		{"top more than there is", "h: 1\n\nb1\n", 5, "h: 1\r\n\r\nb1\r\n.\r\n"},
		{"top without body", "h: 1\nh: 2\n", 0, "h: 1\r\nh: 2\r\n.\r\n"},
		{"cr split from lf by the buffer", long + "\r\n.x\n", -1, long + "\r\n..x\r\n.\r\n"},
		{"cr at the buffer end without lf", long + "\r.x\n", -1, long + "\r.x\r\n.\r\n"},
		{"long line continues", strings.Repeat("y", 3*readBufSize) + "\n.\n", -1, strings.Repeat("y", 3*readBufSize) + "\r\n..\r\n.\r\n"},
		{"dot after a long line piece is not a line start", strings.Repeat("z", readBufSize) + ".z\n", -1, strings.Repeat("z", readBufSize) + ".z\r\n.\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n := write(t, tc.in, tc.lines)
			if got != tc.want {
				t.Fatalf("got  %q\nwant %q", short(got), short(tc.want))
			}
			if tc.lines < 0 && n != int64(len(tc.in)) {
				t.Fatalf("read %d octets; want %d", n, len(tc.in))
			}
			if tc.lines < 0 {
				if ref := reference(tc.in, -1); ref != got {
					t.Fatalf("reference disagrees: %q", short(ref))
				}
			}
		})
	}
}

func short(s string) string {
	if len(s) > 120 {
		return s[:60] + "..." + s[len(s)-60:]
	}
	return s
}

// The size LIST reports is what RETR sends before stuffing and the final
// ".": the CRLF size, as maildir's W= field says.
func TestCRLFSizeMatchesWhatIsSent(t *testing.T) {
	for _, in := range []string{"", "a\n", "a\r\n", "a\rb\n\n", strings.Repeat("q", readBufSize-1) + "\r\n", strings.Repeat("q", readBufSize) + "\n"} {
		n, err := crlfSize(bufio.NewReaderSize(nil, readBufSize), strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		want := int64(len(crlf(in)))
		if n != want {
			t.Errorf("crlfSize(%q) = %d; want %d", short(in), n, want)
		}
	}
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// endless is a message of n bytes of short lines, generated as read.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), e.n)
	for i := int64(0); i < k; i++ {
		if i%64 == 63 {
			p[i] = '\n'
		} else {
			p[i] = 'm'
		}
	}
	e.n -= k
	return int(k), nil
}

// A 64 MB message streams through a fixed buffer: memory does not grow
// with the message.
func TestWriteMessageStreams(t *testing.T) {
	br := bufio.NewReaderSize(nil, readBufSize)
	w := bufio.NewWriterSize(io.Discard, 32<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n, err := writeMessage(w, br, &endless{n: 64 << 20}, -1)
	runtime.ReadMemStats(&after)
	if err != nil || n != 64<<20 {
		t.Fatalf("writeMessage = %d, %v", n, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("streaming 64 MB allocated %d bytes", alloc)
	}
}

func FuzzWriteMessage(f *testing.F) {
	for _, s := range []string{"", "a\n", ".\n", "h\n\nb\n.", "\r\n\r\n", "a\rb", "x\n\n.\n..\r\n"} {
		f.Add(s, int8(-1))
		f.Add(s, int8(1))
	}
	f.Fuzz(func(t *testing.T, msg string, lines int8) {
		got, n := write(t, msg, int(lines))
		if lines < 0 {
			if n != int64(len(msg)) {
				t.Fatalf("read %d of %d octets", n, len(msg))
			}
			if want := reference(msg, -1); got != want {
				t.Fatalf("writeMessage(%q) = %q; reference %q", msg, got, want)
			}
		} else if want := reference(msg, int(lines)); got != want {
			t.Fatalf("TOP %d of %q = %q; reference %q", lines, msg, got, want)
		}
		// Whatever the input: CRLF lines only, ending in ".\r\n".
		if !strings.HasSuffix(got, "\r\n.\r\n") && got != ".\r\n" {
			t.Fatalf("response %q does not end in CRLF.CRLF", got)
		}
		if strings.Contains(strings.ReplaceAll(got, "\r\n", ""), "\n") {
			t.Fatalf("bare LF in %q", got)
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"USER alice@example.com", "PASS a b  c ", "LIST 1", "TOP 1 10", "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
		"", " ", "QUIT", "retr 1", "RETR  1", "X", "LISTX", "LIST \x00", "STAT\t1", "CAPA ", "USER ", "UIDL 1 2 3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, why := parseCommand(line)
		if why != "" {
			if c.Name != "" || len(c.Args) != 0 {
				t.Fatalf("refused %q (%s) but returned %+v", line, why, c)
			}
			return
		}
		if len(c.Name) < 3 || len(c.Name) > 4 || strings.ToUpper(c.Name) != c.Name || !utf8.ValidString(c.Name) {
			t.Fatalf("parseCommand(%q): keyword %q", line, c.Name)
		}
		if !strings.EqualFold(line[:len(c.Name)], c.Name) {
			t.Fatalf("parseCommand(%q): keyword %q is not the line's", line, c.Name)
		}
		for _, a := range c.Args {
			if a == "" || strings.ContainsAny(a, " \r\n\x00") {
				t.Fatalf("parseCommand(%q): argument %q", line, a)
			}
			if c.Name != "AUTH" && len(a) > maxArgLen {
				t.Fatalf("parseCommand(%q): argument over %d: %q", line, maxArgLen, a)
			}
		}
		if n, ok := parseNumber(c.Rest); ok && (n < 0 || n > 999999999) {
			t.Fatalf("parseNumber(%q) = %d", c.Rest, n)
		}
	})
}
