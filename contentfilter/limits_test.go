package contentfilter

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// nestedMultipart builds depth multiparts each inside the one before.
func nestedMultipart(depth int) []byte {
	var b bytes.Buffer
	b.WriteString("Subject: deep\r\n")
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nhi\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.Bytes()
}

// manyParts builds one multipart of n text parts.
func manyParts(n int) []byte {
	var b bytes.Buffer
	b.WriteString("Content-Type: multipart/mixed; boundary=x\r\n\r\n")
	for i := 0; i < n; i++ {
		b.WriteString("--x\r\nContent-Type: text/plain\r\n\r\npart\r\n")
	}
	b.WriteString("--x--\r\n")
	return b.Bytes()
}

// TestLimits: nesting and part counts over the limits answer with a
// clear permanent reply; at the limit they pass.
func TestLimits(t *testing.T) {
	banned := &Banned{Extensions: DefaultBannedExtensions}
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"deep at the limit", nestedMultipart(DefaultMaxDepth), ""},
		{"too deep", nestedMultipart(DefaultMaxDepth + 1), "554 5.6.0 Message content rejected: MIME parts nested deeper than 30 levels"},
		{"1000 nested", nestedMultipart(1000), "554 5.6.0 Message content rejected: MIME parts nested deeper than 30 levels"},
		{"parts at the limit", manyParts(DefaultMaxParts - 1), ""},
		{"too many parts", manyParts(DefaultMaxParts), "554 5.6.0 Message content rejected: more than 1000 MIME parts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Checks{Banned: banned}
			res := c.Check(tc.msg)
			got := ""
			if res.Verb == Reject {
				e := res.Reply.Enhanced
				got = fmt.Sprintf("%d %d.%d.%d %s", res.Reply.Code, e[0], e[1], e[2], res.Reply.Text)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestHugeHeader: a header far over 1 MiB is read up to the bound, and
// the checks still answer.
func TestHugeHeader(t *testing.T) {
	msg := "Subject: " + strings.Repeat("a", 3<<20) + "\r\nX-Bad: yes\r\n\r\nbody\r\n"
	r, _ := ParseRule(KindHeader, "/^X-Bad: yes/ REJECT")
	c := Checks{Rules: []*Rule{r}, Banned: &Banned{Extensions: DefaultBannedExtensions}}
	res := c.Check([]byte(msg))
	if res.Verb != "" {
		t.Fatalf("verb %q: a field past the header bound is body, not header", res.Verb)
	}
}

func TestSplitMultipart(t *testing.T) {
	for _, tc := range []struct {
		body string
		want []string
	}{
		{"pre\r\n--b\r\nA\r\n--b\r\nB\r\n--b--\r\nepi", []string{"A", "B"}},
		{"--b\nA\n--b--\n", []string{"A"}},
		{"--b  \r\nA\r\n--bb\r\nstill A\r\n--b--", []string{"A\r\n--bb\r\nstill A"}},
		{"no delimiter at all", nil},
		{"--b\r\nunterminated", []string{"unterminated"}},
		{"x--b\r\nnot at a line start", nil},
		{"--b\r\n--b\r\n--b--", []string{"", ""}},
	} {
		var got []string
		for _, p := range splitMultipart([]byte(tc.body), "b") {
			got = append(got, string(p))
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
			t.Errorf("%q: got %q, want %q", tc.body, got, tc.want)
		}
	}
}
