package contentfilter

import (
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		kind    Kind
		line    string
		verb    Verb
		text    string
		matches []string
		misses  []string
		err     string
	}{
		{kind: KindHeader, line: "/^Subject: win/ REJECT you lose", verb: Reject, text: "you lose",
			matches: []string{"Subject: WIN big", "subject: win"}, misses: []string{"X-Subject: win"}},
		{kind: KindHeader, line: "/^Subject: Win/i DISCARD", verb: Discard,
			matches: []string{"Subject: Win"}, misses: []string{"Subject: win"}},
		{kind: KindHeader, line: "!/^From:.*@example\\.com/ WARN outsider", verb: Warn, text: "outsider",
			matches: []string{"From: x@example.org"}, misses: []string{"From: x@example.com"}},
		{kind: KindBody, line: "#http://bad\\.example/# HOLD", verb: Hold,
			matches: []string{"visit http://bad.example/now"}},
		{kind: KindHeader, line: "/^X-Spam-Flag: YES/ PREPEND X-Tag: spam", verb: Prepend, text: "X-Tag: spam"},
		{kind: KindHeader, line: "/^Received:/ ignore", verb: Ignore},
		{kind: KindHeader, line: "/^To:.*victim/ REDIRECT abuse@example.test", verb: Redirect, text: "abuse@example.test"},
		{kind: KindBody, line: "/x/ IGNORE", err: "IGNORE is for header rules only"},
		{kind: KindMIMEHeader, line: "/x/ PREPEND X-A: b", err: "PREPEND is for header rules only"},
		{kind: KindHeader, line: "/x/ PREPEND nonsense", err: "PREPEND needs a header field"},
		{kind: KindHeader, line: "/x/ REDIRECT nobody", err: "REDIRECT needs an address"},
		{kind: KindHeader, line: "/x/", err: "needs an action"},
		{kind: KindHeader, line: "/x/ FILTER smtp:x", err: `unknown action "FILTER"`},
		{kind: KindHeader, line: "/x REJECT", err: "no closing /"},
		{kind: KindHeader, line: "/(x/ REJECT", err: "pattern: error parsing regexp"},
		{kind: KindHeader, line: "/x/q REJECT", err: `unknown flag 'q'`},
		{kind: KindHeader, line: "Subject REJECT", err: "a rule starts with /pattern/"},
		// RE2 has no back-references: a Postfix PCRE table line is refused, not misread.
		{kind: KindHeader, line: `/(a)\1/ REJECT`, err: "pattern: error parsing regexp"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			r, err := ParseRule(tc.kind, tc.line)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Verb != tc.verb || r.Text != tc.text {
				t.Fatalf("verb %q text %q, want %q %q", r.Verb, r.Text, tc.verb, tc.text)
			}
			for _, m := range tc.matches {
				if !r.Matches(m) {
					t.Errorf("%q does not match, want a match", m)
				}
			}
			for _, m := range tc.misses {
				if r.Matches(m) {
					t.Errorf("%q matches, want none", m)
				}
			}
		})
	}
}

func TestReadRulesNamesTheLine(t *testing.T) {
	table := "# comment\n\n/^Subject: a/ REJECT long\n  text continued\n/(/ REJECT\n"
	_, err := ReadRules(KindHeader, strings.NewReader(table))
	if err == nil || !strings.HasPrefix(err.Error(), "line 5: pattern") {
		t.Fatalf("err = %v, want line 5", err)
	}
	rules, err := ReadRules(KindHeader, strings.NewReader(table[:len(table)-len("/(/ REJECT\n")]))
	if err != nil || len(rules) != 1 || rules[0].Text != "long text continued" {
		t.Fatalf("rules %v, err %v; want one with the continued text", rules, err)
	}
}

// TestHeaderEdits: IGNORE drops a field (with its continuation lines),
// PREPEND adds one before the matched field; the body stays.
func TestHeaderEdits(t *testing.T) {
	msg := "Received: from a\r\n\tby b\r\nX-Spam-Flag: YES\r\nSubject: s\r\n\r\nbody\r\n"
	var rules []*Rule
	for _, l := range []string{"/^Received:.*by b/ IGNORE", "/^X-Spam-Flag: YES/ PREPEND X-Junk: yes"} {
		r, err := ParseRule(KindHeader, l)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	c := Checks{Rules: rules}
	res := c.Check([]byte(msg))
	if res.Verb != "" {
		t.Fatalf("verb %q", res.Verb)
	}
	want := "X-Junk: yes\r\nX-Spam-Flag: YES\r\nSubject: s\r\n\r\n"
	if string(res.Header) != want {
		t.Fatalf("header %q, want %q", res.Header, want)
	}
	if got := msg[res.HeaderSize:]; got != "body\r\n" {
		t.Fatalf("body %q", got)
	}
}

// TestRedirectAndHoldGoOn: HOLD and REDIRECT mark the message and the
// checks go on; a later REJECT wins.
func TestRedirectAndHoldGoOn(t *testing.T) {
	var rules []*Rule
	for _, l := range []string{"/^To:/ REDIRECT quarantine@example.test", "/^Subject: hold/ HOLD", "/^X-Last: reject/ REJECT 5.7.0 no"} {
		r, _ := ParseRule(KindHeader, l)
		rules = append(rules, r)
	}
	c := Checks{Rules: rules}
	res := c.Check([]byte("To: b@x\r\nSubject: hold me\r\n\r\nhi\r\n"))
	if res.Verb != Hold || res.Redirect != "quarantine@example.test" {
		t.Fatalf("got %q redirect %q, want HOLD and the redirect", res.Verb, res.Redirect)
	}
	res = c.Check([]byte("To: b@x\r\nSubject: hold me\r\nX-Last: reject\r\n\r\nhi\r\n"))
	if res.Verb != Reject || res.Reply.Enhanced != [3]int{5, 7, 0} || res.Reply.Text != "no" {
		t.Fatalf("got %+v, want REJECT 5.7.0 no", res)
	}
}
