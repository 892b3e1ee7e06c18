package mailsort

import (
	"slices"
	"testing"
	"time"
)

// day is a date in December 2026, for readable test mailboxes.
func day(d int) time.Time { return time.Date(2026, 12, d, 12, 0, 0, 0, time.UTC) }

// seqs returns the sequence numbers of an order of msgs.
func seqs(msgs []Message, order []int) []uint32 {
	out := make([]uint32, len(order))
	for i, k := range order {
		out[i] = msgs[k].Seq
	}
	return out
}

func TestSort(t *testing.T) {
	msgs := []Message{
		{Seq: 1, Internal: day(5), Sent: day(1), Size: 300, Subject: "Re: banana",
			From: Address{"Zed", "zed", "b.test"}, To: Address{"", "carol", "a.test"}, Cc: Address{"", "Bob", "x.test"}},
		{Seq: 2, Internal: day(1), Sent: day(3), Size: 100, Subject: "apple",
			From: Address{"", "amy", "z.test"}, To: Address{"Dora", "dora", "a.test"}},
		{Seq: 3, Internal: day(3), Size: 200, Subject: "[list] Cherry",
			From: Address{"=?utf-8?q?=C3=89mile?=", "emile", "c.test"}, To: Address{"", "Carol", "b.test"}, Cc: Address{"", "alice", "x.test"}},
		{Seq: 4, Internal: day(2), Sent: day(3), Size: 100, Subject: "BANANA (fwd)",
			From: Address{"", "Amy", "a.test"}, To: Address{"  ", "bert", "a.test"}, Cc: Address{"", "bob", "y.test"}},
	}
	// Message 3 has no sent date: its INTERNALDATE (day 3) stands in.
	for _, tc := range []struct {
		name string
		crit []Criterion
		want []uint32
	}{
		{"arrival", []Criterion{{Key: Arrival}}, []uint32{2, 4, 3, 1}},
		{"date, missing date is arrival, tie by sequence", []Criterion{{Key: Date}}, []uint32{1, 2, 3, 4}},
		{"reverse date keeps ties ascending", []Criterion{{Key: Date, Reverse: true}}, []uint32{2, 3, 4, 1}},
		{"size, tie by sequence", []Criterion{{Key: Size}}, []uint32{2, 4, 3, 1}},
		{"reverse size", []Criterion{{Key: Size, Reverse: true}}, []uint32{1, 3, 2, 4}},
		{"subject is the base subject, case-insensitive", []Criterion{{Key: Subject}}, []uint32{2, 1, 4, 3}},
		{"subject then reverse arrival", []Criterion{{Key: Subject}, {Key: Arrival, Reverse: true}}, []uint32{2, 1, 4, 3}},
		{"subject then reverse date", []Criterion{{Key: Subject}, {Key: Date, Reverse: true}}, []uint32{2, 4, 1, 3}},
		{"from is the mailbox, case-insensitive", []Criterion{{Key: From}}, []uint32{2, 4, 3, 1}},
		{"from then reverse size", []Criterion{{Key: From}, {Key: Size, Reverse: true}}, []uint32{2, 4, 3, 1}},
		{"to is the mailbox", []Criterion{{Key: To}}, []uint32{4, 1, 3, 2}},
		{"cc: none sorts first", []Criterion{{Key: Cc}}, []uint32{2, 3, 1, 4}},
		{"displayfrom: name, else mailbox@host", []Criterion{{Key: DisplayFrom}}, []uint32{4, 2, 3, 1}},
		{"displayto: blank name is no name", []Criterion{{Key: DisplayTo}}, []uint32{4, 1, 3, 2}},
		{"no criteria is sequence order", nil, []uint32{1, 2, 3, 4}},
		{"unknown key ignored", []Criterion{{Key: Key(99)}, {Key: Size}}, []uint32{2, 4, 3, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := seqs(msgs, Sort(msgs, tc.crit, UnicodeCasemap)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSortCollation(t *testing.T) {
	msgs := []Message{
		{Seq: 1, Subject: "élan"},
		{Seq: 2, Subject: "Zebra"},
		{Seq: 3, Subject: "ÉLAN"},
		{Seq: 4, Subject: "apple"},
	}
	crit := []Criterion{{Key: Subject}}
	// É and é both become E and a combining accent: equal, and before Z.
	if got := seqs(msgs, Sort(msgs, crit, UnicodeCasemap)); !slices.Equal(got, []uint32{4, 1, 3, 2}) {
		t.Errorf("i;unicode-casemap: got %v", got)
	}
	// Octets beyond ASCII stay as they are: after Z, and É (C3 89)
	// before é (C3 A9).
	if got := seqs(msgs, Sort(msgs, crit, ASCIICasemap)); !slices.Equal(got, []uint32{4, 2, 3, 1}) {
		t.Errorf("i;ascii-casemap: got %v", got)
	}
}

func TestParseKey(t *testing.T) {
	for _, name := range []string{"arrival", "CC", "Date", "FROM", "SIZE", "subject", "TO", "displayfrom", "DISPLAYTO"} {
		k, ok := ParseKey(name)
		if !ok || k.String() != upper(name) {
			t.Errorf("ParseKey(%q) = %v, %v", name, k, ok)
		}
	}
	for _, name := range []string{"REVERSE", "", "UID"} {
		if _, ok := ParseKey(name); ok {
			t.Errorf("ParseKey(%q) accepted", name)
		}
	}
}

func upper(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = upperASCII(b[i])
	}
	return string(b)
}
