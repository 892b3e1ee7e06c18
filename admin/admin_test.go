package admin

import (
	"strings"
	"testing"
)

func TestParseNextHop(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"mx.example.net", "mx.example.net"},
		{"MX.Example.NET:2525", "mx.example.net:2525"},
		{"[mx.example.net]", "[mx.example.net]"},
		{"[mx.example.net]:587", "[mx.example.net]:587"},
		{"[192.0.2.1]:25", "[192.0.2.1]:25"},
		{"[2001:db8::1]:25", "[2001:db8::1]:25"},
		{"[bücher.example]", "[xn--bcher-kva.example]"},
	} {
		got, err := ParseNextHop(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseNextHop(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"mx example", "[mx.example.net", "[mx.example.net]x", "mx.example.net:0", "mx.example.net:65536",
		"mx.example.net:x", "mx.example.net:+25", "192.0.2.1", "[fe80::1%eth0]", ":25", "[]", "mx", "a/b.example",
	} {
		if got, err := ParseNextHop(in); err == nil {
			t.Errorf("ParseNextHop(%q) = %q, want an error", in, got)
		}
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		p := GeneratePassword(GeneratedPasswordLen)
		if len(p) != GeneratedPasswordLen || strings.ContainsAny(p, "0O1lI") || seen[p] {
			t.Fatalf("bad or repeated password %q", p)
		}
		seen[p] = true
	}
}

func TestCursorRoundTrip(t *testing.T) {
	p := ListParams{Cursor: "not-a-cursor"}
	if _, err := p.page(); err == nil {
		t.Fatal("garbage cursor accepted")
	}
	p = ListParams{Limit: MaxLimit + 1}
	if _, err := p.page(); err == nil {
		t.Fatal("limit over the maximum accepted")
	}
}

func FuzzParseNextHop(f *testing.F) {
	for _, s := range []string{"mx.example.net", "[mx.example.net]:25", "[192.0.2.1]", "[2001:db8::1]:587", "host:0", "[x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hop, err := ParseNextHop(s)
		if err != nil {
			return
		}
		// A parsed next hop parses to itself and is what the schema accepts.
		again, err := ParseNextHop(hop)
		if err != nil || again != hop {
			t.Fatalf("%q -> %q -> %q, %v", s, hop, again, err)
		}
		if strings.ContainsAny(hop, " \t\r\n") || hop != strings.ToLower(hop) {
			t.Fatalf("%q -> %q", s, hop)
		}
	})
}
