package address

import (
	"errors"
	"strings"
	"testing"
)

func TestDomain(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"example.com", "example.com"},
		{"Example.COM.", "example.com"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"BÜCHER.example", "xn--bcher-kva.example"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"ｅｘａｍｐｌｅ.com", "example.com"}, // full-width forms map
		{"mail-1.example.org", "mail-1.example.org"},
	} {
		got, err := Domain(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Domain(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"", ".", "com", "exa mple.com", "-a.example", "a-.example", "a..example", "a_b.example",
		"[192.0.2.1]", "xn--zz.example", strings.Repeat("a", 64) + ".example",
		strings.Repeat("abcdefghi.", 26) + "example", "a/b.example", "ex@mple.com", "\xff.example", "192.0.2.1", "example.123",
	} {
		if got, err := Domain(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Domain(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Alice@Example.COM", "alice@example.com"},
		{"alice.smith+tag@example.com", "alice.smith+tag@example.com"},
		{`"alice"@example.com`, "alice@example.com"},
		{`"john doe"@example.com`, `"john doe"@example.com`},
		{`"a\"b"@example.com`, `"a\"b"@example.com`},
		{"JÖRG@bücher.example", "jörg@xn--bcher-kva.example"},
		{"jo\u0308rg@example.com", "jörg@example.com"}, // NFC
		{"!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com"},
	} {
		got, err := Normalize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"", "alice", "@example.com", "alice@", "alice@@example.com", ".alice@example.com",
		"alice.@example.com", "al..ice@example.com", "al ice@example.com", "al,ice@example.com",
		"<alice@example.com>", `"unterminated@example.com`, `""@example.com`, "alice@exa mple.com",
		strings.Repeat("a", 65) + "@example.com", "a\x00b@example.com", "alice@localhost",
		strings.Repeat("a", 60) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".com",
	} {
		if got, err := Normalize(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}

func TestUnicode(t *testing.T) {
	if got := Unicode("xn--bcher-kva.example"); got != "bücher.example" {
		t.Errorf("Unicode = %q", got)
	}
	if got := Unicode("example.com"); got != "example.com" {
		t.Errorf("Unicode = %q", got)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"alice@example.com", `"a b"@bücher.example`, "x@xn--bcher-kva.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			return
		}
		n2, err := Normalize(n)
		if err != nil || n2 != n {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, n, n2, err)
		}
		if len(n) > MaxPathLen || n != strings.ToLower(n) {
			t.Fatalf("bad result %q", n)
		}
	})
}
