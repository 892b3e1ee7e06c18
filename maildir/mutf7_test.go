package maildir

import (
	"testing"
	"unicode/utf8"
)

func TestMUTF7(t *testing.T) {
	for _, tc := range []struct{ utf8, mutf7 string }{
		{"", ""},
		{"INBOX", "INBOX"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"}, // RFC 3501 5.1.3
		{"&", "&-"},
		{"A&B", "A&-B"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"Gesendete Objekte", "Gesendete Objekte"},
		{"☺!", "&Jjo-!"},  // RFC 3501: "&Jjo!" is not valid, "&Jjo-!" is
		{"😀", "&2D3eAA-"}, // a surrogate pair
		{"é&ü", "&AOk-&-&APw-"},
		{"日本語 mail", "&ZeVnLIqe- mail"},
		{"tab\there", "tab&AAk-here"}, // control characters are not printable
		{"a~b-c+d,e", "a~b-c+d,e"},
	} {
		enc, err := EncodeMUTF7(tc.utf8)
		if err != nil || enc != tc.mutf7 {
			t.Errorf("EncodeMUTF7(%q) = %q, %v; want %q", tc.utf8, enc, err, tc.mutf7)
		}
		dec, err := DecodeMUTF7(tc.mutf7)
		if err != nil || dec != tc.utf8 {
			t.Errorf("DecodeMUTF7(%q) = %q, %v; want %q", tc.mutf7, dec, err, tc.utf8)
		}
	}
}

func TestMUTF7Invalid(t *testing.T) {
	for _, s := range []string{
		"&",          // unterminated
		"&U,BTFw",    // unterminated
		"&Jjo!",      // RFC 3501's invalid example
		"&AGE-",      // encodes 'a', which must stand for itself
		"&ACY-",      // encodes '&', which must be "&-"
		"&Jjo-&Jjo-", // adjacent runs must be merged
		"&2D0-",      // lone high surrogate
		"&3gA-",      // lone low surrogate
		"&2D3YPQ-",   // high surrogate followed by another high surrogate
		"&U,-",       // odd number of bytes
		"&U,BTFx-",   // non-zero padding bits
		"&U/BTFw-",   // '/' is not in the modified alphabet
		"&U,BTFw==-", // no padding in modified BASE64
		"caf\u00e9",  // raw non-ASCII
		"a\tb",       // raw control character
		"a\x00b",     // NUL
		"&AOk-\x7f",  // DEL
		"&\nAOk-",    // base64 decoders skip newlines; we do not
		"&A-",        // a single BASE64 character
	} {
		if dec, err := DecodeMUTF7(s); err == nil {
			t.Errorf("DecodeMUTF7(%q) = %q, want an error", s, dec)
		}
	}
	if _, err := EncodeMUTF7("bad\xffutf8"); err == nil {
		t.Error("EncodeMUTF7 accepted invalid UTF-8")
	}
}

// FuzzDecodeMUTF7 checks that the decoder never panics, returns valid UTF-8,
// and accepts only canonical encodings.
func FuzzDecodeMUTF7(f *testing.F) {
	for _, s := range []string{"~peter/mail/&U,BTFw-/&ZeVnLIqe-", "&-", "&2D3eAA-", "&Jjo!", "&AGE-", "Entw&APw-rfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dec, err := DecodeMUTF7(s)
		if err != nil {
			return
		}
		if !utf8.ValidString(dec) {
			t.Fatalf("DecodeMUTF7(%q) = %q: invalid UTF-8", s, dec)
		}
		enc, err := EncodeMUTF7(dec)
		if err != nil || enc != s {
			t.Fatalf("EncodeMUTF7(DecodeMUTF7(%q)) = %q, %v: not canonical", s, enc, err)
		}
	})
}

// FuzzEncodeMUTF7 checks that every valid UTF-8 string round-trips.
func FuzzEncodeMUTF7(f *testing.F) {
	for _, s := range []string{"Entwürfe", "&", "😀x😀", "~peter/mail/台北/日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc, err := EncodeMUTF7(s)
		if !utf8.ValidString(s) {
			if err == nil {
				t.Fatalf("EncodeMUTF7(%q) accepted invalid UTF-8", s)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		dec, err := DecodeMUTF7(enc)
		if err != nil || dec != s {
			t.Fatalf("DecodeMUTF7(EncodeMUTF7(%q)) = %q, %v", s, dec, err)
		}
	})
}
