package mailsort

import (
	"strings"
	"testing"
)

func TestBaseSubject(t *testing.T) {
	for _, tc := range []struct {
		name, raw, want string
		reply           bool
	}{
		{"plain", "hello", "hello", false},
		{"empty", "", "", false},
		{"only white space", " \t ", "", false},
		{"re", "Re: hello", "hello", true},
		{"re upper, spaces collapsed", "RE:   hello  world", "hello world", true},
		{"re without space", "re:hello", "hello", true},
		{"space before colon", "Re : hello", "hello", true},
		{"re with counter blob", "Re[2]: hello", "hello", true},
		{"re, space, blob", "Re [2]: hello", "hello", true},
		{"fw", "Fw: hello", "hello", true},
		{"fwd", "FWD: hello", "hello", true},
		{"nested refwd", "Re: Re: Fwd: Re: hello", "hello", true},
		{"the brief's example", "Re: [list] Fwd: Re: hello (fwd)", "hello", true},
		{"blob then refwd", "[PATCH v2] Re: foo", "foo", true},
		{"refwd then blob", "Re: [PATCH] foo", "foo", true},
		{"list tag only", "[list] hello", "hello", false},
		{"two blobs", "[a] [b] hello", "hello", false},
		{"blob that is the whole subject stays", "[list]", "[list]", false},
		{"last blob stays when nothing follows", "[a] [b]", "[b]", false},
		{"blob with UTF-8", "[Liste für Ärger] Hallo", "Hallo", false},
		{"NUL is no BLOBCHAR", "[a\x00b] x", "[a\x00b] x", false},
		{"unclosed blob", "[abc hello", "[abc hello", false},
		{"trailer", "hello (fwd)", "hello", true},
		{"trailer upper, no space", "hello(FWD)", "hello", true},
		{"trailers repeated", "Fwd: hi (fwd) (fwd)  ", "hi", true},
		{"fwd wrapper", "[fwd: hello]", "hello", true},
		{"fwd wrapper with refwd inside", "[Fwd: Re: hello]", "hello", true},
		{"refwd, wrapper, trailer", "Re: [fwd: hello] (fwd)", "hello", true},
		{"nested wrappers", "[fwd: [fwd: hello] ]", "hello", true},
		{"empty wrapper", "[fwd: ]", "", true},
		{"only re", "Re:", "", true},
		{"only trailer", "(fwd)", "", true},
		{"word starting with re", "Rebecca: hi", "Rebecca: hi", false},
		{"word starting with fw", "Fwiw: hi", "Fwiw: hi", false},
		{"re in the middle stays", "hello Re: world", "hello Re: world", false},
		{"tabs and continuation lines", "Re:\r\n\thello\t world", "hello world", true},
		{"encoded word", "=?UTF-8?Q?h=C3=A9llo?=", "héllo", false},
		{"encoded re", "=?UTF-8?Q?Re=3A_h=C3=A9llo?=", "héllo", true},
		{"adjacent encoded words join", "=?iso-8859-1?q?h=E9llo?= \r\n =?utf-8?b?d29ybGQ=?=", "hélloworld", false},
		{"encoded word then text", "=?utf-8?q?Re:?= hello", "hello", true},
		{"encoded word in another charset", "Re: =?KOI8-R?B?8NLJ18XU?=", "Привет", true},
		{"unknown charset stays as written", "Re: =?x-unknown?q?abc?= def", "=?x-unknown?q?abc?= def", true},
		{"bad encoding stays, next word decoded", "=?utf-8?b?!!!?= =?utf-8?q?ok?=", "=?utf-8?b?!!!?= ok", false},
		{"language suffix", "=?utf-8*en?q?hi?=", "hi", false},
		{"encoded blob", "=?utf-8?q?[list]_?=hello", "hello", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reply := BaseSubject(tc.raw)
			if got != tc.want || reply != tc.reply {
				t.Errorf("BaseSubject(%q) = %q, %v; want %q, %v", tc.raw, got, reply, tc.want, tc.reply)
			}
		})
	}
}

func TestCollationKey(t *testing.T) {
	u, a := UnicodeCasemap, ASCIICasemap
	for _, tc := range []struct {
		name string
		coll Collation
		x, y string
		want int
	}{
		{"ascii case", u, "hello", "HeLLo", 0},
		{"ascii order ignores case", u, "apple", "Banana", -1},
		{"latin case", u, "élan", "ÉLAN", 0},
		{"composed and decomposed", u, "\u00e9", "e\u0301", 0},
		{"Dovecot's example", u, "\u00fc \u00b3", "U\u0308 3", 0},
		{"ligature", u, "\ufb01le", "FILE", 0},
		{"accent sorts after its letter", u, "\u00e9", "e", 1},
		{"and before the next letter", u, "\u00e9", "f", -1},
		{"greek final sigma titlecases", u, "ς", "Σ", 0},
		{"titlecase digraph", u, "ǆ", "ǅ", 0},
		{"ascii casemap keeps non-ascii case", a, "é", "É", 1},
		{"ascii casemap folds ascii", a, "Hello", "hELLO", 0},
		{"invalid UTF-8 kept apart", u, "a\xff", "a\xfe", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Compare(tc.coll.Key(tc.x), tc.coll.Key(tc.y))
			if got != tc.want {
				t.Errorf("compare(%q, %q) = %d, want %d (keys %q, %q)", tc.x, tc.y, got, tc.want, tc.coll.Key(tc.x), tc.coll.Key(tc.y))
			}
		})
	}
}
