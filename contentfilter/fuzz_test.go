package contentfilter

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzCheck runs the walker and every kind of check on arbitrary input:
// it must neither panic nor run away, whatever the MIME structure.
func FuzzCheck(f *testing.F) {
	files, _ := filepath.Glob("testdata/mime/*.eml")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add(nestedMultipart(40))
	var rules []*Rule
	for _, l := range []struct {
		k Kind
		s string
	}{{KindHeader, "/^Subject:.*x/ PREPEND X-A: b"}, {KindHeader, "/^Received:/ IGNORE"},
		{KindMIMEHeader, "/name=.*\\.exe/ WARN"}, {KindBody, "/zzz/ HOLD"}} {
		r, err := ParseRule(l.k, l.s)
		if err != nil {
			f.Fatal(err)
		}
		rules = append(rules, r)
	}
	c := Checks{Rules: rules, Banned: &Banned{Extensions: DefaultBannedExtensions, Types: DefaultBannedTypes, InsideZip: true},
		Limits: Limits{MaxDepth: 10, MaxParts: 100}}
	f.Fuzz(func(t *testing.T, msg []byte) {
		res := c.Check(msg)
		if res.HeaderSize > len(msg) {
			t.Fatalf("header size %d > message %d", res.HeaderSize, len(msg))
		}
		parts := 0
		_ = Walk(msg, c.Limits, func(p *Part) error {
			parts++
			if p.Depth > c.Limits.MaxDepth {
				t.Fatalf("depth %d over the limit", p.Depth)
			}
			return nil
		})
		if parts > c.Limits.MaxParts {
			t.Fatalf("%d parts over the limit", parts)
		}
	})
}

// FuzzParseRule: any line either parses or is refused with an error.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"/a/ REJECT", "!/b/i WARN x", "#c# PREPEND X-A: b", "/d/ REDIRECT a@b", "/(/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, k := range []Kind{KindHeader, KindMIMEHeader, KindBody} {
			r, err := ParseRule(k, line)
			if err == nil && (r.Pattern == nil || r.Verb == "") {
				t.Fatalf("%q: parsed without pattern or action", line)
			}
		}
	})
}
