package mailsort

import (
	"slices"
	"testing"
	"time"

	"mailhost/mailheader"
)

func TestSentDate(t *testing.T) {
	internal := time.Date(2026, 12, 3, 4, 25, 43, 0, time.UTC)
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	for _, tc := range []struct {
		name, date string
		want       time.Time
	}{
		{"RFC 5322", "Thu, 3 Dec 2026 04:25:43 -0800", utc(2026, 12, 3, 12, 25, 43)},
		{"RFC 5256's example crosses the year", "31 Dec 2000 16:01:33 -0800", utc(2001, 1, 1, 0, 1, 33)},
		{"zone comment", "Thu, 03 Dec 2026 04:25:43 +0100 (CET)", utc(2026, 12, 3, 3, 25, 43)},
		{"obsolete zone, no space after comma", "Thu,3 Dec 2026 04:25:43 EST", utc(2026, 12, 3, 9, 25, 43)},
		{"two-digit year, no seconds", "3 Dec 26 04:25 GMT", utc(2026, 12, 3, 4, 25, 0)},
		{"two-digit year of the last century", "3 Dec 99 04:25:00 +0000", utc(1999, 12, 3, 4, 25, 0)},
		{"no zone is UTC", "3 Dec 2026 04:25:43", utc(2026, 12, 3, 4, 25, 43)},
		{"military zone is UTC", "3 Dec 2026 04:25:43 Q", utc(2026, 12, 3, 4, 25, 43)},
		{"invalid zone is UTC", "3 Dec 2026 04:25:43 +0199", utc(2026, 12, 3, 4, 25, 43)},
		{"invalid time is midnight", "3 Dec 2026 25:61:00 +0000", utc(2026, 12, 3, 0, 0, 0)},
		{"no time is midnight", "3 December 2026", utc(2026, 12, 3, 0, 0, 0)},
		{"zone against the time", "3 Dec 2026 04:25:43-0100", utc(2026, 12, 3, 5, 25, 43)},
		{"asctime order", "Wed Jan  2 15:04:05 2006", utc(2006, 1, 2, 15, 4, 5)},
		{"leap second", "31 Dec 2016 23:59:60 +0000", utc(2016, 12, 31, 23, 59, 59)},
		{"IMAP's dashes", "3-Dec-2026 04:25:43 +0000", utc(2026, 12, 3, 4, 25, 43)},
		{"missing", "", internal},
		{"garbage", "yesterday at noon", internal},
		{"no such day", "31 Feb 2026 10:00:00 +0000", internal},
		{"no month", "3 2026 10:00:00", internal},
		{"ISO 8601 is not RFC 5322", "2026-12-03T04:25:43Z", internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SentDate(tc.date, internal); !got.Equal(tc.want) {
				t.Errorf("SentDate(%q) = %v, want %v", tc.date, got, tc.want)
			}
		})
	}
}

func TestFirstAddress(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        Address
	}{
		{"bare", "alice@example.test", Address{Mailbox: "alice", Host: "example.test"}},
		{"name with comma, second ignored", `"Doe, John" <john@example.test>, x@y.test`, Address{"Doe, John", "john", "example.test"}},
		{"encoded name", "=?utf-8?q?J=C3=B6rg?= <j@example.test>", Address{"Jörg", "j", "example.test"}},
		{"encoded name, other charset", "=?iso-8859-1?q?J=F6rg?= <j@example.test>", Address{"Jörg", "j", "example.test"}},
		{"quoted local part", `"john doe"@example.test`, Address{Mailbox: "john doe", Host: "example.test"}},
		{"comment", "alice@example.test (Alice)", Address{"Alice", "alice", "example.test"}},
		{"folded", "Alice\r\n <alice@example.test>", Address{"Alice", "alice", "example.test"}},
		{"empty group is the group", "undisclosed-recipients:;", Address{Mailbox: "undisclosed-recipients"}},
		{"group with members is the group", "team: a@example.test, b@example.test;", Address{Mailbox: "team"}},
		{"no domain", "MAILER-DAEMON", Address{Mailbox: "MAILER-DAEMON"}},
		{"broken list, lenient", "Alice <alice@example.test>, <<<", Address{"Alice", "alice", "example.test"}},
		{"unclosed bracket, lenient", "Bob bob@example.test <", Address{Mailbox: "bob", Host: "example.test"}},
		{"source route", "<@relay.test:carol@example.test>", Address{Mailbox: "carol", Host: "example.test"}},
		{"empty", "", Address{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FirstAddress(tc.value); got != tc.want {
				t.Errorf("FirstAddress(%q) = %+v, want %+v", tc.value, got, tc.want)
			}
		})
	}
}

func TestMsgIDs(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []string
	}{
		{"list", "<a@x.test> <b@x.test>\r\n\t<c@x.test>", []string{"a@x.test", "b@x.test", "c@x.test"}},
		{"quoted local part is the same ID (RFC 5256)", `<"01KF8JCEOCBS0045PS"@xxx.yyy.com>`, []string{"01KF8JCEOCBS0045PS@xxx.yyy.com"}},
		{"comments skipped", "<a@x.test> (<c@x.test>) <e@x.test>", []string{"a@x.test", "e@x.test"}},
		{"white space inside removed", "< a@x.test >", []string{"a@x.test"}},
		{"invalid IDs skipped", "<no-at> <@x.test> <a@> <> <b@x.test>", []string{"b@x.test"}},
		{"old In-Reply-To phrase", `Your message of "Mon, 1 Jan <z@z>" <a@x.test>`, []string{"a@x.test"}},
		{"unclosed then valid", "<a@x.test <b@x.test>", []string{"b@x.test"}},
		{"quoted > inside", `<"a>b"@x.test>`, []string{"a>b@x.test"}},
		{"case kept", "<ABC@X.test>", []string{"ABC@X.test"}},
		{"quote left open", `John's "message <a@x.test>`, []string{"a@x.test"}},
		{"comment left open", "<a@x.test> (see <b@x.test>", []string{"a@x.test", "b@x.test"}},
		{"nothing", "no ids here", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := msgIDs(tc.value, 0); !slices.Equal(got, tc.want) {
				t.Errorf("msgIDs(%q) = %q, want %q", tc.value, got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	raw := "From: =?utf-8?q?Zo=C3=AB?= <zoe@example.test>\r\n" +
		"To: undisclosed-recipients:;\r\n" +
		"Subject: Re: [list]\r\n hello\r\n" +
		"Date: Thu, 3 Dec 2026 04:25:43 +0000\r\n" +
		"Message-ID: <m2@example.test>\r\n" +
		"References: <m0@example.test>\r\n <m1@example.test>\r\n" +
		"In-Reply-To: <m1@example.test>\r\n" +
		"\r\nbody\r\n"
	h := mailheader.Parse([]byte(raw))
	internal := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	m := Summarize(&h, 7, 42, internal, int64(len(raw)))
	if m.Seq != 7 || m.UID != 42 || m.Size != int64(len(raw)) || !m.Internal.Equal(internal) {
		t.Errorf("numbers: %+v", m)
	}
	if !m.Sent.Equal(time.Date(2026, 12, 3, 4, 25, 43, 0, time.UTC)) {
		t.Errorf("Sent = %v", m.Sent)
	}
	if m.From != (Address{"Zoë", "zoe", "example.test"}) || m.To != (Address{Mailbox: "undisclosed-recipients"}) || m.Cc != (Address{}) {
		t.Errorf("addresses: from %+v to %+v cc %+v", m.From, m.To, m.Cc)
	}
	if base, reply := BaseSubject(m.Subject); base != "hello" || !reply {
		t.Errorf("subject %q: base %q, reply %v", m.Subject, base, reply)
	}
	if got := msgIDs(m.References, 0); !slices.Equal(got, []string{"m0@example.test", "m1@example.test"}) {
		t.Errorf("references %q", got)
	}
	if msgIDs(m.MessageID, 1)[0] != "m2@example.test" || msgIDs(m.InReplyTo, 1)[0] != "m1@example.test" {
		t.Errorf("ids %q %q", m.MessageID, m.InReplyTo)
	}
}
