package sieve

import (
	"context"
	"errors"
	"strings"
	"testing"
)

const listMsg = "From: coyote@ACME.Example.COM\r\n" +
	"To: coyote@ACME.Example.COM\r\n" +
	"List-ID: Acme users <acme-users@lists.example.org>\r\n" +
	"Subject: [acme-users] [fwd] version 1.0 is out\r\n" +
	"Received: from a.example by b.example; Tue, 1 Apr 1997 09:06:31 -0800\r\n" +
	"Received: from c.example by a.example; Tue, 1 Apr 1997 08:00:00 -0800\r\n" +
	"Date: Tue, 1 Apr 1997 07:06:31 -0800\r\n" +
	"X-Spam-Status: Yes, score=7.5 required=5.0\r\n" +
	"X-Virus-Status: Clean\r\n" +
	"Content-Type: multipart/alternative; boundary=b\r\n" +
	"\r\n" +
	"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
	"Caf=E9 MAKE MONEY fast\r\n" +
	"--b\r\nContent-Type: text/html\r\n\r\n<p>html only</p>\r\n" +
	"--b--\r\n"

// RFC 5229, variables: the examples of sections 3, 4 and 5.
func TestRFC5229Variables(t *testing.T) {
	runCases(t, listMsg, []caseT{
		{"3 list-id", `require ["fileinto", "variables"];
			if header :matches "List-ID" "*<*@*" {
				fileinto "INBOX.lists.${2}"; stop;
			}`, "fileinto INBOX.lists.acme-users"},
		{"3 subject", `require ["fileinto", "variables"];
			if header :matches "Subject" "[*] *" {
				fileinto "INBOX.lists.${1}"; stop;
			}`, "fileinto INBOX.lists.acme-users"},
		{"3 ${2} short star", `require ["fileinto", "variables"];
			if address :matches ["To", "Cc"] ["coyote@**.com", "wile@**.com"] {
				fileinto "INBOX.business.${2}"; stop;
			}`, "fileinto INBOX.business.ACME.Example"},
		{"4 modifiers", `require ["variables", "fileinto"];
			set "a" "juMBlEd lETteRS";
			set :length "b" "${a}";
			set :lower "c" "${a}";
			set :upperfirst "d" "${a}";
			set :upperfirst :lower "e" "${a}";
			set :quotewildcard "f" "a*b?c\\d";
			fileinto "${b}/${c}/${d}/${e}/${f}";`, `fileinto 15/jumbled letters/JuMBlEd lETteRS/Jumbled letters/a\*b\?c\\d`},
		{"unknown var is empty", `require ["variables","fileinto"]; fileinto "x${nope}y";`, "fileinto xy"},
		{"malformed ref literal", `require ["variables","fileinto"]; fileinto "x${bad-name}";`, "fileinto x${bad-name}"},
		{"5 string test", `require ["variables"]; set "x" "abc";
			if string :is "${x}" "abc" { discard; }`, "discard"},
		{"5 string :count empty", `require ["variables", "relational", "comparator-i;ascii-numeric"]; set "x" "";
			if string :count "eq" :comparator "i;ascii-numeric" ["${x}", "a"] "1" { discard; }`, "discard"},
		{"match vars survive failed test", `require ["variables","fileinto"];
			if header :matches "Subject" "[*]*" {}
			if header :matches "Subject" "nope*" {}
			fileinto "${1}";`, "fileinto acme-users"},
	})
}

// RFC 5231, relational, and comparator-i;ascii-numeric (RFC 4790 9.1).
func TestRFC5231Relational(t *testing.T) {
	runCases(t, listMsg, []caseT{
		{"count received", `require ["relational", "comparator-i;ascii-numeric"];
			if header :count "ge" :comparator "i;ascii-numeric" "received" "2" { discard; }`, "discard"},
		{"count addresses", `require ["relational", "comparator-i;ascii-numeric"];
			if address :count "eq" :comparator "i;ascii-numeric" ["to", "cc"] "1" { discard; }`, "discard"},
		{"value gt casemap", `require "relational";
			if header :value "gt" "subject" "[A" { discard; }`, "discard"},
		{"numeric infinity", `require ["relational", "comparator-i;ascii-numeric"];
			if header :value "gt" :comparator "i;ascii-numeric" "subject" "99999" { discard; }`, "discard"},
		{"numeric leading zeros", `require ["comparator-i;ascii-numeric", "variables"];
			if string :comparator "i;ascii-numeric" "007" "7" { discard; }`, "discard"},
	})
	runCases(t, "X-Priority: 007\r\n\r\n", []caseT{
		{"numeric is", `require "comparator-i;ascii-numeric";
			if header :is :comparator "i;ascii-numeric" "x-priority" "7" { discard; }`, "discard"},
	})
}

// RFC 5232, imap4flags.
func TestRFC5232Flags(t *testing.T) {
	runCases(t, listMsg, []caseT{
		{"addflag keeps flags", `require "imap4flags"; addflag "\\seen"; addflag ["\\Flagged", "\\Seen"];`, `keep [\Seen \Flagged] (implicit)`},
		{"removeflag", `require "imap4flags"; setflag "\\Seen \\Flagged"; removeflag "\\seen";`, `keep [\Flagged] (implicit)`},
		{"fileinto :flags", `require ["imap4flags", "fileinto"]; addflag "\\Seen"; fileinto :flags "\\Flagged" "x"; keep;`,
			`fileinto x [\Flagged]; keep [\Seen]`},
		{"hasflag", `require "imap4flags"; addflag "$Work"; if hasflag :contains "work" { discard; }`, "discard"},
		{"variable flags", `require ["imap4flags", "variables"]; addflag "f" "A B"; removeflag "f" "a";
			if hasflag "f" "B" { keep :flags "${f}"; }`, "keep [B]"},
		{"RFC 5232 6 example", `require ["imap4flags", "fileinto"];
			if size :over 500K { setflag "\\Deleted"; }
			if header :contains "from" "boss@frobnitzm.example.edu" { setflag "\\Flagged"; fileinto :flags "\\Flagged" "INBOX.From Boss"; }`,
			"keep (implicit)"},
	})
}

// RFC 5230 vacation and RFC 6131 vacation-seconds.
func TestRFC5230Vacation(t *testing.T) {
	runCases(t, listMsg, []caseT{
		{"defaults", `require "vacation"; vacation "I'm away";`, `vacation 168h0m0s "" "I'm away"; keep (implicit)`},
		{"days and subject", `require "vacation"; vacation :days 23 :subject "Gone" :addresses ["tjs@example.edu"] "away";`,
			`vacation 552h0m0s "Gone" "away"; keep (implicit)`},
		{"days 0 is 1", `require "vacation"; vacation :days 0 "x";`, `vacation 24h0m0s "" "x"; keep (implicit)`},
		{"seconds", `require ["vacation", "vacation-seconds"]; vacation :seconds 1800 "x";`, `vacation 30m0s "" "x"; keep (implicit)`},
		{"subject from variables", `require ["vacation", "variables"];
			if header :matches "subject" "*" { vacation :subject "Re: ${1}" "away"; }`,
			`vacation 168h0m0s "Re: [acme-users] [fwd] version 1.0 is out" "away"; keep (implicit)`},
	})
	s, err := Compile(`require "vacation"; vacation :seconds 5 "x";`, Options{})
	if err == nil || !strings.Contains(err.Error(), `require "vacation-seconds"`) {
		t.Fatalf(":seconds without vacation-seconds: %v, %v", s, err)
	}
}

// RFC 3894 copy, RFC 5490 mailbox, RFC 5429 reject and ereject.
func TestCopyMailboxReject(t *testing.T) {
	runCases(t, listMsg, []caseT{
		{"redirect :copy keeps", `require "copy"; redirect :copy "a@example.net";`, "redirect a@example.net :copy; keep (implicit)"},
		{"fileinto :copy keeps", `require ["copy", "fileinto"]; fileinto :copy "Archive";`, "fileinto Archive :copy; keep (implicit)"},
		{"fileinto :create", `require ["mailbox", "fileinto"]; fileinto :create "New/Box";`, "fileinto New/Box :create"},
		{"mailboxexists", `require ["mailbox", "fileinto"]; if mailboxexists "Junk" { fileinto "Junk"; }
			if mailboxexists ["Junk", "Nope"] { discard; }`, "fileinto Junk"},
		{"reject", `require "reject"; reject "go away";`, "reject go away"},
		{"ereject", `require "ereject"; ereject "go away";`, "ereject go away"},
		{"reject with redirect", `require "reject"; redirect "a@example.net"; reject "no";`, "redirect a@example.net; reject no"},
	})
}

// RFC 5173 body.
func TestRFC5173Body(t *testing.T) {
	runCases(t, listMsg, []caseT{
		{"text decoded", `require "body"; if body :contains "Café" { discard; }`, "discard"},
		{"text includes html", `require "body"; if body :text :contains "html only" { discard; }`, "discard"},
		{"content plain only", `require "body"; if body :content "text/plain" :contains "html only" { discard; }`, "keep (implicit)"},
		{"content html", `require "body"; if body :content "text/html" :contains "html only" { discard; }`, "discard"},
		{"content any", `require "body"; if body :content "" :contains "html only" { discard; }`, "discard"},
		{"raw undecoded", `require "body"; if body :raw :contains "Caf=E9" { discard; }`, "discard"},
		{"RFC 5173 example", `require ["body", "fileinto"];
			if body :text :contains "MAKE MONEY FAST" { discard; }`, "discard"},
	})
}

// RFC 5233 subaddress and the envelope.
func TestRFC5233Subaddress(t *testing.T) {
	runCases(t, listMsg, []caseT{
		{"detail", `require ["envelope", "subaddress", "fileinto"];
			if envelope :detail "to" "birds" { fileinto "Birds"; }`, "fileinto Birds"},
		{"user", `require ["envelope", "subaddress"]; if envelope :user "to" "roadrunner" { discard; }`, "discard"},
		{"no detail is no match", `require ["subaddress"]; if address :detail :matches "from" "*" { discard; }`, "keep (implicit)"},
		{"variables detail", `require ["envelope", "subaddress", "variables", "fileinto"];
			if envelope :matches :detail "to" "*" { fileinto "INBOX.${1}"; }`, "fileinto INBOX.birds"},
	})
}

// RFC 5260 date and index.
func TestRFC5260DateIndex(t *testing.T) {
	runCases(t, listMsg, []caseT{
		{"date year", `require "date"; if date :is "date" "year" "1997" { discard; }`, "discard"},
		{"date zone", `require "date"; if date :zone "+0000" :is "date" "hour" "15" { discard; }`, "discard"},
		{"originalzone", `require "date"; if date :originalzone :is "date" "zone" "-0800" { discard; }`, "discard"},
		{"weekday", `require "date"; if date :zone "-0800" :is "date" "weekday" "2" { discard; }`, "discard"},
		{"julian", `require "date"; if date :zone "-0800" :is "date" "julian" "50539" { discard; }`, "discard"},
		{"received last", `require ["date", "index"];
			if date :index 1 :last :zone "-0800" :is "received" "time" "08:00:00" { discard; }`, "discard"},
		{"received first", `require ["date", "index"];
			if date :index 1 :zone "-0800" :is "received" "time" "09:06:31" { discard; }`, "discard"},
		{"header index", `require "index"; if header :index 2 :contains "received" "c.example" { discard; }`, "discard"},
		{"currentdate", `require ["date", "relational"];
			if currentdate :value "ge" "date" "2026-12-01" { discard; }`, "discard"},
		{"currentdate iso", `require ["date", "variables", "fileinto"];
			if currentdate :matches "iso8601" "*" { fileinto "${1}"; }`, "fileinto 2026-12-03T07:30:00+00:00"},
	})
}

// RFC 5235 spamtest and virustest from header-derived scores; regex.
func TestSpamtestRegex(t *testing.T) {
	runCases(t, listMsg, []caseT{
		{"spamtest", `require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto"];
			if spamtest :value "ge" :comparator "i;ascii-numeric" "6" { fileinto "Junk"; }`, "fileinto Junk"},
		{"spamtest percent", `require ["spamtestplus", "relational", "comparator-i;ascii-numeric"];
			if spamtest :percent :value "eq" :comparator "i;ascii-numeric" "75" { discard; }`, "discard"},
		{"virustest clean", `require ["virustest"]; if virustest "1" { discard; }`, "discard"},
		{"regex", `require ["regex", "variables", "fileinto"];
			if header :regex "subject" "^\\[([a-z-]+)\\]" { fileinto "${1}"; }`, "fileinto acme-users"},
	})
	runCases(t, "Subject: x\r\n\r\n", []caseT{
		{"untested is 0", `require "spamtest"; if spamtest "0" { discard; }`, "discard"},
	})
}

// RFC 5228 2.4.2.4 encoded-character.
func TestEncodedCharacter(t *testing.T) {
	runCases(t, listMsg, []caseT{
		{"hex and unicode", `require ["encoded-character", "fileinto"]; fileinto "${hex:41 42}${unicode:E9}";`, "fileinto ABé"},
		{"malformed left", `require ["encoded-character", "fileinto"]; fileinto "${hex:4}x";`, "fileinto ${hex:4}x"},
		{"not required left", `require "fileinto"; fileinto "${hex:41}";`, "fileinto ${hex:41}"},
	})
	if _, err := Compile(`require ["encoded-character", "fileinto"]; fileinto "${unicode:D800}";`, Options{}); err == nil {
		t.Fatal("a surrogate compiled")
	}
}

type fakeIncluder map[string]string

func (f fakeIncluder) Include(_ context.Context, global bool, name string) (*Script, error) {
	key := name
	if global {
		key = "global/" + name
	}
	src, ok := f[key]
	if !ok {
		return nil, ErrNoScript
	}
	return Compile(src, Options{})
}

// RFC 6609 include, return and global, and a chain of before, user and
// after scripts.
func TestRFC6609Include(t *testing.T) {
	inc := fakeIncluder{
		"global/spam": `require ["fileinto", "include", "variables"]; global "where"; set "where" "Junk"; if header :contains "subject" "acme" { fileinto "${where}"; return; } discard;`,
		"loop":        `require "include"; include "loop";`,
		"once":        `require ["include", "fileinto"]; fileinto "Once";`,
	}
	run := func(script string) (string, error) {
		s, err := Compile(script, Options{})
		if err != nil {
			return "", err
		}
		res, err := Run(context.Background(), Input{Message: NewMessage([]byte(listMsg)), Includer: inc}, s)
		if err != nil {
			return "", err
		}
		return render(res), nil
	}
	for _, tc := range []struct{ name, script, want, err string }{
		{"global include", `require ["include", "variables", "fileinto"]; global "where"; include :global "spam"; fileinto "after-${where}";`,
			"fileinto Junk; fileinto after-Junk", ""},
		{"optional missing", `require "include"; include :optional "nope";`, "keep (implicit)", ""},
		{"missing", `require "include"; include "nope";`, "", "no script"},
		{"loop", `require "include"; include "loop";`, "", "include loop"},
		{"once", `require "include"; include :once "once"; include :once "once";`, "fileinto Once", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(tc.script)
			if tc.err != "" {
				var re *RuntimeError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// A domain's before script, the owner's and the domain's after script run
// as one chain: actions add up, stop ends the chain.
func TestChain(t *testing.T) {
	compile := func(src string) *Script {
		s, err := Compile(src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := compile(`require ["imap4flags"]; if header :contains "x-spam-status" "yes" { addflag "$Junk"; }`)
	user := compile(`require ["fileinto"]; if header :contains "list-id" "acme" { fileinto "Lists"; }`)
	after := compile(`require ["fileinto", "copy"]; fileinto :copy "Archive";`)
	stopper := compile(`stop;`)
	msg := NewMessage([]byte(listMsg))
	res, err := Run(context.Background(), Input{Message: msg}, before, user, after)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := render(res), "fileinto Lists [$Junk]; fileinto Archive :copy [$Junk]"; got != want {
		t.Errorf("chain: got %q, want %q", got, want)
	}
	res, err = Run(context.Background(), Input{Message: msg}, before, stopper, user, after)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := render(res), "keep [$Junk] (implicit)"; got != want {
		t.Errorf("stop: got %q, want %q", got, want)
	}
}
