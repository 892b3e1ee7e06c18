package sieve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// render writes a result as one line per action, for comparing.
func render(res *Result) string {
	var out []string
	for _, a := range res.Actions {
		s := a.Kind.String()
		switch a.Kind {
		case FileInto:
			s += " " + a.Mailbox
			if a.Create {
				s += " :create"
			}
		case Redirect:
			s += " " + a.Address
		case Reject, EReject:
			s += " " + a.Reason
		case Vacation:
			s += fmt.Sprintf(" %v %q %q", a.Vacation.Period, a.Vacation.Subject, a.Reason)
		}
		if a.Copy {
			s += " :copy"
		}
		if len(a.Flags) > 0 {
			s += " [" + strings.Join(a.Flags, " ") + "]"
		}
		if a.Implicit {
			s += " (implicit)"
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

const testMsg = "Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\r\n" +
	"From: coyote@desert.example.org\r\n" +
	"To: roadrunner@acme.example.com\r\n" +
	"Subject: I have a present for you\r\n" +
	"X-Caffeine: C8H10N4O2\r\n" +
	"\r\n" +
	"Look, I'm sorry about the whole anvil thing, and I really\r\n" +
	"didn't mean to try and drop it on you from the top of the\r\n" +
	"cliff.  I want to try to make it up to you.  I've got some\r\n" +
	"great birdseed over here at my place--top of the line\r\n" +
	"stuff--and if you come by, I'll have it all wrapped\r\n" +
	"up for you.  I'm really sorry for all the problems I've\r\n" +
	"caused for you over the years, but I know we can work this\r\n" +
	"out.\r\n" +
	"--\r\n" +
	"Wile E. Coyote   \"Super Genius\"   coyote@desert.example.org\r\n"

var testEnv = Envelope{From: "coyote@desert.example.org", To: "roadrunner+birds@acme.example.com"}

type caseT struct {
	name, script, want string
}

// runCases runs each script on msg (testMsg when empty) and compares the actions.
func runCases(t *testing.T, msg string, cases []caseT) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compile(tc.script, Options{})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if msg == "" {
				msg = testMsg
			}
			m := NewMessage([]byte(msg))
			res, err := Run(context.Background(), Input{
				Message: m, Envelope: testEnv, Scores: HeaderScores{m},
				Now:       time.Date(2026, 12, 3, 7, 30, 0, 0, time.UTC),
				Mailboxes: fakeMailboxes{"INBOX": true, "Junk": true},
			}, s)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if got := render(res); got != tc.want {
				t.Errorf("actions\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

type fakeMailboxes map[string]bool

func (f fakeMailboxes) MailboxExists(n string) bool { return f[n] }

// RFC 5228: the base language, with the examples of its sections.
func TestRFC5228(t *testing.T) {
	runCases(t, "", []caseT{
		{"empty script keeps", ``, "keep (implicit)"},
		{"discard cancels keep", `discard;`, "discard"},
		{"keep explicit", `keep;`, "keep"},
		{"stop keeps implicitly", `stop; discard;`, "keep (implicit)"},
		{"2.9 example", `require "fileinto";
			if header :contains "from" "coyote" {
				discard;
			} elsif header :contains ["subject"] ["$$$"] {
				discard;
			} else {
				fileinto "INBOX";
			}`, "discard"},
		{"comments", "# hash\r\n/* bracketed\r\n comment */ keep; # end", "keep"},
		{"5.1 address :domain", `if address :is :domain "from" "desert.example.org" { discard; }`, "discard"},
		{"5.1 address :localpart", `if address :localpart :is "to" "ROADRUNNER" { discard; }`, "discard"},
		{"5.4 envelope", `require "envelope"; if envelope :all :is "from" "coyote@desert.example.org" { discard; }`, "discard"},
		{"5.5 exists", `if exists ["From","Date"] { discard; }`, "discard"},
		{"5.5 exists missing", `if exists ["From","X-Nope"] { discard; }`, "keep (implicit)"},
		{"5.6 false", `if false { discard; }`, "keep (implicit)"},
		{"5.7 header :matches", `if header :matches "Subject" "*present*" { discard; }`, "discard"},
		{"5.7 header :is casemap", `if header :is "x-caffeine" "c8h10n4o2" { discard; }`, "discard"},
		{"5.7 octet is case-sensitive", `if header :comparator "i;octet" :is "x-caffeine" "c8h10n4o2" { discard; }`, "keep (implicit)"},
		{"5.8 not", `if not exists "X-Nope" { discard; }`, "discard"},
		{"5.9 size :over", `if size :over 1K { discard; }`, "keep (implicit)"},
		{"5.9 size :under", `if size :under 1M { discard; }`, "discard"},
		{"5.10 true", `if true { discard; }`, "discard"},
		{"anyof allof", `if anyof (false, allof (true, exists "from")) { discard; }`, "discard"},
		{"? matches one char", `if header :matches "X-Caffeine" "C8H10N4O?" { discard; }`, "discard"},
		{"escaped wildcard", `if header :matches "Subject" "I have a present for you\\*" { discard; }`, "keep (implicit)"},
		{"redirect", `redirect "wile@example.net";`, "redirect wile@example.net"},
		{"redirect twice once", `redirect "a@example.net"; redirect "A@example.net";`, "redirect a@example.net"},
		{"fileinto twice once", `require "fileinto"; fileinto "x"; fileinto "x";`, "fileinto x"},
		{"text: multiline", "require \"reject\";\r\nreject text:\r\nnot\r\n..dot\r\n.\r\n;", "reject not\r\n.dot\r\n"},
		{"9 full example", rfc5228Example, "fileinto INBOX.harassment"},
	})
}

// rfc5228Example is the example of RFC 5228 section 9, with the test message.
const rfc5228Example = `require ["fileinto", "reject"];
	# Move large messages to a special mailbox
	if size :over 1M {
		fileinto "INBOX.bigmessages";
		stop;
	}
	if header :is "from" "boss@example.com" {
		fileinto "INBOX.important";
		stop;
	}
	if anyof (header :contains "from" "coyote",
	          header :contains "from" "acme-wile-e-coyote") {
		fileinto "INBOX.harassment";
		stop;
	}
	if address :DOMAIN :is ["From", "To"] "example.com" {
		keep;
	}`

func TestCompileErrorsHaveLines(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		line         int
		msg          string
	}{
		{"unknown command", "keep;\nfrobnicate;", 2, "unknown command"},
		{"missing require", "\n\nfileinto \"x\";", 3, `needs require "fileinto"`},
		{"unknown extension", `require "nope";`, 1, "unsupported extension"},
		{"require late", "keep;\nrequire \"fileinto\";", 2, "require must come before"},
		{"missing brace", "if true {\nkeep;\n", 3, `expected "}"`},
		{"missing semicolon", "keep\n}", 2, "expected ';'"},
		{"unclosed string", "\n\"abc", 2, "not closed"},
		{"unclosed comment", "keep;\n/* x", 2, "comment not closed"},
		{"else alone", "else { keep; }", 1, "without a preceding if"},
		{"bad tag", "if header :foo \"a\" \"b\" { keep; }", 1, "no tag :foo"},
		{"two match types", "if header :is :contains \"a\" \"b\" { keep; }", 1, "exclude each other"},
		{"numeric contains", "require \"comparator-i;ascii-numeric\";\nif header :contains :comparator \"i;ascii-numeric\" \"a\" \"1\" {keep;}", 2, "cannot be used"},
		{"size without tag", "if size 10 { keep; }", 1, "needs :over or :under"},
		{"bad redirect", `redirect "nobody";`, 1, "not an address"},
		{"regex bad", "require \"regex\";\nif header :regex \"a\" \"(\" {keep;}", 2, "bad pattern"},
		{"nesting", strings.Repeat("if true {", 20) + strings.Repeat("}", 20), 1, "nested deeper"},
		{"unknown date part", "require \"date\";\nif currentdate \"fortnight\" \"1\" {keep;}", 2, "unknown date part"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.script, Options{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
			if e.Line != tc.line || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got line %d %q, want line %d containing %q", e.Line, e.Msg, tc.line, tc.msg)
			}
		})
	}
}

func TestScriptSizeLimit(t *testing.T) {
	_, err := Compile(strings.Repeat("keep;", 100), Options{MaxScriptSize: 100})
	if err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("got %v", err)
	}
}

func TestRunLimits(t *testing.T) {
	msg := NewMessage([]byte(testMsg))
	for _, tc := range []struct {
		name, script string
		lim          Limits
		want         string
	}{
		{"redirects", `redirect "a@x.test"; redirect "b@x.test"; redirect "c@x.test";`, Limits{MaxRedirects: 2}, "more than 2 redirects"},
		{"actions", `require ["fileinto"]; fileinto "a"; fileinto "b"; fileinto "c";`, Limits{MaxActions: 2}, "more than 2 actions"},
		{"reject and keep", `require "reject"; keep; reject "no";`, Limits{}, "cannot be combined"},
		{"reject twice", `require "ereject"; ereject "no"; ereject "nope";`, Limits{}, "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compile(tc.script, Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = Run(context.Background(), Input{Message: msg, Limits: tc.lim}, s)
			var re *RuntimeError
			if !errors.As(err, &re) || !strings.Contains(re.Msg, tc.want) {
				t.Fatalf("got %v, want runtime error %q", err, tc.want)
			}
		})
	}
}

func TestRunTimeLimitAndContext(t *testing.T) {
	script := `require "body"; ` + strings.Repeat(`if body :contains "zzz" { keep; } `, 200)
	s, err := Compile(script, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Run(ctx, Input{Message: NewMessage([]byte(testMsg))}, s)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: got %v", err)
	}
}

// BenchmarkRun50Rules runs a 50-rule script that matches nothing (every
// test is evaluated, the message kept), as bench/smtp-in.sh does per
// delivery.
func BenchmarkRun50Rules(b *testing.B) {
	var src strings.Builder
	src.WriteString(`require ["fileinto", "imap4flags", "envelope", "subaddress"];` + "\n")
	for i := range 50 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&src, "if header :contains \"subject\" \"newsletter-%d\" { fileinto \"News%d\"; stop; }\n", i, i)
		case 1:
			fmt.Fprintf(&src, "if address :domain :is \"from\" \"sender%d.example\" { fileinto \"From%d\"; }\n", i, i)
		case 2:
			fmt.Fprintf(&src, "if header :matches \"list-id\" \"*list%d*\" { addflag \"\\\\Flagged\"; }\n", i)
		case 3:
			fmt.Fprintf(&src, "if envelope :detail \"to\" \"tag%d\" { fileinto \"Tag%d\"; }\n", i, i)
		}
	}
	s, err := Compile(src.String(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	raw := []byte(testMsg)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), Input{Message: NewMessage(raw), Envelope: testEnv}, s); err != nil {
			b.Fatal(err)
		}
	}
}

// A message in parts (the server's fields, then the message as received)
// reads as the same message in one piece: fields of both parts, size, the
// body, and the same actions.
func TestMessageParts(t *testing.T) {
	head := "Received: by mx.test\r\nX-Spam-Flag: YES\r\n"
	body := "From: bob@far.test\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\nhello body\r\n"
	parts, whole := NewMessageParts([]byte(head), []byte(body)), NewMessage([]byte(head+body))
	if parts.Size() != whole.Size() || fmt.Sprint(parts.Header("subject")) != fmt.Sprint(whole.Header("subject")) ||
		len(parts.Header("received")) != 1 || len(parts.Header("from")) != 1 {
		t.Fatalf("parts: size %d, subject %q, received %q", parts.Size(), parts.Header("subject"), parts.Header("received"))
	}
	if raw, err := parts.Raw(); err != nil || string(raw) != head+body {
		t.Fatalf("raw: %q %v", raw, err)
	}
	s, err := Compile(`require ["body", "fileinto", "spamtest", "relational", "comparator-i;ascii-numeric"];
		if allof (header :is "subject" "café", body :contains "hello", address :domain "from" "far.test",
			spamtest :value "eq" :comparator "i;ascii-numeric" "10") { fileinto "ok"; }`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Message{parts, whole} {
		res, err := Run(context.Background(), Input{Message: m, Scores: HeaderScores{Msg: m}}, s)
		if err != nil || len(res.Actions) != 1 || res.Actions[0].Mailbox != "ok" {
			t.Fatalf("run: %+v %v", res, err)
		}
	}
}
