package mailheader_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"mailhost/mailheader"
)

type field struct{ key, value string }

func fields(h *mailheader.Header) []field {
	var out []field
	for f := h.Fields(); f.Next(); {
		out = append(out, field{f.Key(), f.Value()})
	}
	return out
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		want      []field
		body      string // what follows the header section (checked when err is nil)
		err       error
	}{
		{"CRLF", "Subject: hi\r\nTo: a@x.example\r\n\r\nbody\r\n",
			[]field{{"Subject", "hi"}, {"To", "a@x.example"}}, "body\r\n", nil},
		{"bare LF", "Subject: hi\nTo: a@x.example\n\nbody\n",
			[]field{{"Subject", "hi"}, {"To", "a@x.example"}}, "body\n", nil},
		{"folded", "Subject: one\r\n two\r\n\tthree\r\nTo: a@x.example\r\n\r\n",
			[]field{{"Subject", "one two three"}, {"To", "a@x.example"}}, "", nil},
		{"folded bare LF", "Subject: one\n  two\n\n",
			[]field{{"Subject", "one two"}}, "", nil},
		{"duplicates kept in order", "Received: a\r\nFrom: x@a.example\r\nReceived: b\r\nFrom: y@b.example\r\n\r\n",
			[]field{{"Received", "a"}, {"From", "x@a.example"}, {"Received", "b"}, {"From", "y@b.example"}}, "", nil},
		{"space before the colon (RFC 5322 4.5.8)", "From : x@a.example\r\nTo\t: y@b.example\r\n\r\n",
			[]field{{"From", "x@a.example"}, {"To", "y@b.example"}}, "", nil},
		{"names in any case", "FROM: x@a.example\r\nmessage-id: <1@a>\r\n\r\n",
			[]field{{"From", "x@a.example"}, {"Message-Id", "<1@a>"}}, "", nil},
		{"encoded words kept", "Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n",
			[]field{{"Subject", "=?utf-8?q?caf=C3=A9?="}}, "", nil},
		{"empty value", "Subject:\r\nTo: a@x.example\r\n\r\n",
			[]field{{"Subject", ""}, {"To", "a@x.example"}}, "", nil},
		{"8-bit value", "Subject: naïve\r\n\r\n", []field{{"Subject", "naïve"}}, "", nil},
		{"no body", "Subject: x\r\n", []field{{"Subject", "x"}}, "", nil},
		{"no final line end", "Subject: x", []field{{"Subject", "x"}}, "", nil},
		{"empty message", "", nil, "", nil},
		{"body only", "\r\nbody\r\n", nil, "body\r\n", nil},
		{"a line that is not a field ends the header", "Subject: x\r\nnot a header\r\nTo: y@b.example\r\n\r\n",
			[]field{{"Subject", "x"}}, "", mailheader.ErrMalformed},
		{"continuation first", " folded\r\nTo: y@b.example\r\n\r\n", nil, "", mailheader.ErrMalformed},
		{"space inside a name", "Bad Name: x\r\n\r\n", nil, "", mailheader.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := mailheader.Parse([]byte(tc.msg))
			if got := fields(&h); !slices.Equal(got, tc.want) {
				t.Errorf("fields = %q, want %q", got, tc.want)
			}
			if !errors.Is(h.Err, tc.err) || (tc.err == nil) != (h.Err == nil) {
				t.Fatalf("Err = %v, want %v", h.Err, tc.err)
			}
			if tc.err == nil {
				if h.Size > len(tc.msg) || tc.msg[h.Size:] != tc.body {
					t.Errorf("Size = %d: body %q, want %q", h.Size, tc.msg[min(h.Size, len(tc.msg)):], tc.body)
				}
			}
		})
	}
}

func TestParseLookups(t *testing.T) {
	h := mailheader.Parse([]byte("Received: a\r\nFrom : x@a.example\r\nReceived: b\r\n\tc\r\nfrom: y@b.example\r\n\r\nFrom: body@c.example\r\n"))
	if n := h.FieldsByKey("received").Len(); n != 2 {
		t.Errorf("Received fields = %d, want 2", n)
	}
	if got := h.Values("FROM"); !slices.Equal(got, []string{"x@a.example", "y@b.example"}) {
		t.Errorf("From values = %q", got)
	}
	if got := h.Get("Received"); got != "a" {
		t.Errorf("Get(Received) = %q, want the first", got)
	}
	if h.Has("Subject") || !h.Has("from") {
		t.Errorf("Has: Subject %v, from %v", h.Has("Subject"), h.Has("from"))
	}
}

func TestParseTooLarge(t *testing.T) {
	line := "X-Filler: " + strings.Repeat("x", 80) + "\r\n"
	msg := strings.Repeat(line, mailheader.MaxSize/len(line)+2) + "\r\nbody\r\n"
	h := mailheader.Parse([]byte(msg))
	if !errors.Is(h.Err, mailheader.ErrTooLarge) {
		t.Fatalf("Err = %v, want ErrTooLarge", h.Err)
	}
	if n := h.FieldsByKey("X-Filler").Len(); n < mailheader.MaxSize/len(line) {
		t.Errorf("kept %d fields of the first MaxSize bytes", n)
	}
	// Just under the limit is read whole.
	msg = strings.Repeat(line, mailheader.MaxSize/len(line)-1) + "\r\nbody\r\n"
	if h := mailheader.Parse([]byte(msg)); h.Err != nil || msg[h.Size:] != "body\r\n" {
		t.Fatalf("under the limit: Err = %v, Size = %d", h.Err, h.Size)
	}
}

func TestRead(t *testing.T) {
	h := mailheader.Read(strings.NewReader("Subject: from a file\n\nbody\n"))
	if h.Err != nil || h.Get("Subject") != "from a file" || h.Size != len("Subject: from a file\n\n") {
		t.Fatalf("Read = %q, Size %d, Err %v", fields(&h), h.Size, h.Err)
	}
	broken := errors.New("disk on fire")
	h = mailheader.Read(&failingReader{data: "Subject: x\r\nTo: y\r\n", err: broken})
	if !errors.Is(h.Err, broken) {
		t.Fatalf("Err = %v, want the reader's error", h.Err)
	}
}

type failingReader struct {
	data string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestParseAddressList(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []string // nil: an error
	}{
		{"bare", "a@x.example", []string{"a@x.example"}},
		{"angle brackets", "<a@x.example>", []string{"a@x.example"}},
		{"display name", "Alice Example <a@x.example>", []string{"a@x.example"}},
		{"quoted name with a comma", `"Doe, Jane" <j@x.example>, b@y.example`, []string{"j@x.example", "b@y.example"}},
		{"comment as name", "a@x.example (Alice)", []string{"a@x.example"}},
		{"comment after the address", "Alice <a@x.example> (at work)", []string{"a@x.example"}},
		{"folded list", "a@x.example,\r\n b@y.example", []string{"a@x.example", "b@y.example"}},
		{"group", "team: a@x.example, B <b@y.example>;, c@z.example", []string{"a@x.example", "b@y.example", "c@z.example"}},
		{"empty group", "undisclosed-recipients:;", []string{}},
		{"encoded word UTF-8", "=?utf-8?q?Jos=C3=A9?= <jose@x.example>", []string{"jose@x.example"}},
		{"encoded word ISO-2022-JP", "=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?= <t@x.example>", []string{"t@x.example"}},
		{"encoded word unknown charset", "=?x-unknown?Q?J=F6rg?= <j@x.example>", []string{"j@x.example"}},
		{"UTF-8 name (RFC 6532)", "José <jose@x.example>", []string{"jose@x.example"}},
		{"UTF-8 address", "<josé@bücher.example>", []string{"josé@bücher.example"}},
		{"quoted local part", `"a b"@x.example`, []string{"a b@x.example"}},
		{"empty", "", nil},
		{"blank", "  ", nil},
		{"no domain", "alice", nil},
		{"unclosed angle", "Alice <a@x.example", nil},
		{"two at signs", "a@b@x.example", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mailheader.ParseAddressList(tc.value)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("ParseAddressList(%q) = %q, want an error", tc.value, got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("ParseAddressList(%q) = %q, %v; want %q", tc.value, got, err, tc.want)
			}
		})
	}
}

func TestAddresses(t *testing.T) {
	h := mailheader.Parse([]byte("To: a@x.example, =?iso-8859-1?q?J=F6rg?= <j@x.example>\r\n" +
		"Cc: c@x.example\r\nTO : Team: d@x.example;\r\nBcc: broken <\r\n\r\n"))
	got, err := h.Addresses("to")
	if err != nil || !slices.Equal(got, []string{"a@x.example", "j@x.example", "d@x.example"}) {
		t.Fatalf("Addresses(to) = %q, %v", got, err)
	}
	if got, err := h.Addresses("Resent-To"); err != nil || len(got) != 0 {
		t.Fatalf("Addresses of an absent field = %q, %v", got, err)
	}
	if _, err := h.Addresses("Bcc"); err == nil || !strings.Contains(err.Error(), "Bcc") {
		t.Fatalf("Addresses(Bcc) error = %v, want one naming the field", err)
	}
}

// FuzzParse: the reader never panics, its field names are names, and
// without an error the header section is a prefix of the message that
// ends a line.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"Subject: x\r\n\r\nbody", "Received: a\r\n\tb\r\nTo: x\r\n\r\n", "no header\r\n", ":\r\n",
		"A: b\nC: d\n\nbody", " folded first\r\n", "Delivered-To: a@b\r\nDelivered-To: c@d\r\n", "From : a@b\r\n\r\n",
		"To: team: a@b, c@d;\r\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		h := mailheader.Parse(msg)
		for fl := h.Fields(); fl.Next(); {
			if k := fl.Key(); k == "" || strings.ContainsAny(k, " \t\r\n:") {
				t.Fatalf("bad field name %q", k)
			}
			_, _ = mailheader.ParseAddressList(fl.Value())
		}
		if h.Size < 0 || h.Size > len(msg) {
			t.Fatalf("Size %d of %d bytes", h.Size, len(msg))
		}
		if h.Err == nil && h.Size > 0 && h.Size < len(msg) && !bytes.HasSuffix(msg[:h.Size], []byte("\n")) {
			t.Fatalf("header section %q does not end a line", msg[:h.Size])
		}
	})
}

// BenchmarkParse reads a typical received header: a dozen fields, some
// folded, before a body.
func BenchmarkParse(b *testing.B) {
	var h strings.Builder
	for i := range 4 {
		h.WriteString("Received: from mx" + strings.Repeat("x", i) + ".remote.example (mx.remote.example [192.0.2.1])\r\n" +
			"\tby mx.example.test (mailhost) with ESMTPS id 0123456789AB\r\n\tfor <alice@example.test>; Mon, 1 Jun 2026 10:00:00 +0000\r\n")
	}
	h.WriteString("DKIM-Signature: v=1; a=rsa-sha256; d=remote.example; s=sel;\r\n\th=from:to:subject:date; bh=" + strings.Repeat("A", 44) +
		";\r\n\tb=" + strings.Repeat("B", 340) + "\r\n")
	h.WriteString("From: Bob <bob@remote.example>\r\nTo: Alice <alice@example.test>\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n" +
		"Date: Mon, 1 Jun 2026 10:00:00 +0000\r\nMessage-ID: <1@remote.example>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n")
	msg := []byte(h.String() + strings.Repeat(strings.Repeat("x", 78)+"\r\n", 50))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		h := mailheader.Parse(msg)
		if h.FieldsByKey("Received").Len() != 4 {
			b.Fatal("bad parse")
		}
	}
}
