package mailsort

import (
	"fmt"
	"testing"
)

// msg is a test message: its sequence number, Message-ID, References,
// In-Reply-To, subject and the December day it was sent (0: no Date, the
// INTERNALDATE is used, which is day 20 plus the sequence number).
type msg struct {
	seq                 uint32
	id, refs, irt, subj string
	sent                int
}

func mailbox(ms ...msg) []Message {
	out := make([]Message, len(ms))
	for i, m := range ms {
		out[i] = Message{Seq: m.seq, UID: 100 + m.seq, Internal: day(20).AddDate(0, 0, int(m.seq)),
			MessageID: m.id, References: m.refs, InReplyTo: m.irt, Subject: m.subj}
		if m.sent > 0 {
			out[i].Sent = day(m.sent)
		}
	}
	return out
}

// bySeqNumber prints threads with sequence numbers.
func bySeqNumber(msgs []Message) func(int) uint32 {
	return func(i int) uint32 { return msgs[i].Seq }
}

func TestThreadReferences(t *testing.T) {
	for _, tc := range []struct {
		name string
		msgs []msg
		want string
	}{
		{"RFC 5256's example", []msg{
			{2, "<2@x>", "", "", "two", 1},
			{3, "<3@x>", "", "", "three", 2},
			{4, "<4@x>", "<3@x> <6@x>", "", "Re: three", 4},
			{6, "<6@x>", "<3@x>", "", "Re: three", 3},
			{7, "<7@x>", "<3@x> <6@x> <44@x>", "", "Re: three", 7},
			{23, "<23@x>", "<3@x> <6@x> <4@x>", "", "Re: three", 5},
			{44, "<44@x>", "<3@x> <6@x>", "", "Re: three", 6},
			{96, "<96@x>", "<3@x> <6@x> <44@x> <7@x>", "", "Re: three", 8},
		}, "(2)(3 6 (4 23)(44 7 96))"},
		{"RFC 5256's dummy head", []msg{
			{3, "<3@x>", "<gone@x>", "", "Re: a", 1},
			{5, "<5@x>", "<gone@x>", "", "Re: b", 2},
		}, "((3)(5))"},
		{"threads oldest first, replies arriving before their parent", []msg{
			{1, "<r@x>", "<p@x>", "", "Re: p", 3},
			{2, "<q@x>", "", "", "q", 1},
			{3, "<p@x>", "", "", "p", 2},
		}, "(2)(3 1)"},
		{"In-Reply-To when References has no valid ID", []msg{
			{1, "<a@x>", "", "", "a", 1},
			{2, "<b@x>", "<junk>", "<a@x> <z@x>", "x", 2},
		}, "(1 2)"},
		{"only the first In-Reply-To ID", []msg{
			{1, "<a@x>", "", "", "a", 1},
			{2, "<b@x>", "", "", "b", 2},
			{3, "<c@x>", "", "<b@x> <a@x>", "c", 3},
		}, "(1)(2 3)"},
		{"dummy in the middle pruned", []msg{
			{1, "<1@x>", "", "", "one", 1},
			{2, "<2@x>", "<1@x> <missing@x>", "", "two", 2},
		}, "(1 2)"},
		{"dummy with one child at the top pruned", []msg{
			{1, "<1@x>", "<missing@x>", "", "one", 1},
		}, "(1)"},
		{"duplicate Message-ID: the first keeps it", []msg{
			{1, "<a@x>", "", "", "one", 1},
			{2, "<a@x>", "", "", "two", 2},
			{3, "<c@x>", "<a@x>", "", "three", 3},
		}, "(1 3)(2)"},
		{"duplicate of a referenced ID stays apart", []msg{
			{1, "<c@x>", "<a@x>", "", "one", 3},
			{2, "<a@x>", "", "", "two", 1},
			{3, "<a@x>", "<c@x>", "", "three", 2},
		}, "(2 1 3)"},
		{"no or invalid Message-ID", []msg{
			{1, "", "", "", "one", 1},
			{2, "garbage", "", "", "two", 2},
			{3, "<x>", "", "", "three", 3},
		}, "(1)(2)(3)"},
		{"quoted message ID is the same ID", []msg{
			{1, `<"01KF8JCEOCBS0045PS"@xxx.yyy.com>`, "", "", "one", 1},
			{2, "<b@x>", "<01KF8JCEOCBS0045PS@xxx.yyy.com>", "", "two", 2},
		}, "(1 2)"},
		{"message IDs are case-sensitive", []msg{
			{1, "<A@x>", "", "", "one", 1},
			{2, "<b@x>", "<a@x>", "", "two", 2},
		}, "(1)(2)"},
		{"reference loop between two messages", []msg{
			{1, "<a@x>", "<b@x>", "", "one", 1},
			{2, "<b@x>", "<a@x>", "", "two", 2},
		}, "(2 1)"},
		{"message referencing itself", []msg{
			{1, "<a@x>", "<a@x>", "", "one", 1},
		}, "(1)"},
		{"loop in one References field", []msg{
			{1, "<a@x>", "<b@x> <c@x> <b@x>", "", "one", 1},
			{2, "<b@x>", "<z@x>", "", "two", 2},
			{3, "<c@x>", "<b@x>", "", "three", 3},
		}, "(2 (1)(3))"},
		{"three-message loop", []msg{
			{1, "<a@x>", "<c@x>", "", "one", 1},
			{2, "<b@x>", "<a@x>", "", "two", 2},
			{3, "<c@x>", "<b@x>", "", "three", 3},
		}, "(3 1 2)"},
		{"own references replace a truncated one's", []msg{
			{1, "<m@x>", "<p@x> <q@x>", "", "m", 3},
			{2, "<q@x>", "<r@x>", "", "q", 2},
			{3, "<r@x>", "", "", "r", 1},
			{4, "<p@x>", "", "", "p", 4},
		}, "(3 2 1)(4)"},
		{"no references: no parent, even if another message gave one", []msg{
			{1, "<b@x>", "<a@x> <c@x>", "", "b", 2},
			{2, "<c@x>", "", "", "c", 3},
			{3, "<a@x>", "", "", "a", 1},
		}, "(3)(2 1)"},
		{"reply joins its subject's thread", []msg{
			{1, "<1@x>", "", "", "hello", 1},
			{2, "<2@x>", "", "", "Re: hello", 2},
		}, "(1 2)"},
		{"same subject, neither a reply: a dummy over both", []msg{
			{1, "<1@x>", "", "", "hello", 1},
			{2, "<2@x>", "", "", "HELLO", 2},
		}, "((1)(2))"},
		{"the non-reply heads the subject", []msg{
			{1, "<1@x>", "", "", "Re: hello", 1},
			{2, "<2@x>", "", "", "hello", 2},
		}, "(2 1)"},
		{"two replies: a dummy", []msg{
			{1, "<1@x>", "", "", "Re: hello", 1},
			{2, "<2@x>", "", "", "Fwd: hello", 2},
		}, "((1)(2))"},
		{"subject joins a dummy head", []msg{
			{1, "<1@x>", "<gone@x>", "", "Re: hi", 1},
			{2, "<2@x>", "<gone@x>", "", "Re: hi", 2},
			{3, "<3@x>", "", "", "hi", 3},
		}, "((1)(2)(3))"},
		{"two dummy heads of one subject merge", []msg{
			{1, "<1@x>", "<g1@x>", "", "Re: hi", 1},
			{2, "<2@x>", "<g1@x>", "", "Re: hi", 3},
			{3, "<3@x>", "<g2@x>", "", "Re: hi", 2},
			{4, "<4@x>", "<g2@x>", "", "Re: hi", 4},
		}, "((1)(3)(2)(4))"},
		{"empty subjects are not joined", []msg{
			{1, "<1@x>", "", "", "", 1},
			{2, "<2@x>", "", "", "Re:", 2},
		}, "(1)(2)"},
		{"missing dates sort by arrival", []msg{
			{1, "<1@x>", "", "", "one", 0},
			{2, "<2@x>", "", "", "two", 30},
			{3, "<3@x>", "", "", "three", 0},
		}, "(1)(3)(2)"},
		{"siblings by date, ties by sequence", []msg{
			{1, "<1@x>", "", "", "p", 1},
			{2, "<2@x>", "<1@x>", "", "a", 5},
			{3, "<3@x>", "<1@x>", "", "b", 3},
			{4, "<4@x>", "<1@x>", "", "c", 3},
		}, "(1 (3)(4)(2))"},
		{"empty mailbox", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs := mailbox(tc.msgs...)
			threads := Thread(msgs, References, UnicodeCasemap)
			checkOnce(t, msgs, threads)
			if got := FormatThreads(threads, bySeqNumber(msgs)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestThreadOrderedSubject(t *testing.T) {
	msgs := mailbox(
		msg{1, "", "", "", "a", 3},
		msg{2, "", "", "", "Re: a", 1},
		msg{3, "", "", "", "b", 2},
		msg{4, "", "", "", "[list] A (fwd)", 4},
		msg{5, "", "", "", "c", 5},
		msg{6, "", "", "", "Re: c", 6},
		msg{7, "", "", "", "", 0},
		msg{8, "", "", "", "   ", 0},
	)
	threads := Thread(msgs, OrderedSubject, UnicodeCasemap)
	checkOnce(t, msgs, threads)
	// a: 2 (day 1) heads, 1 and 4 its children; b alone; c: 5 then 6,
	// one child so one list; the empty subjects one thread by arrival.
	want := "(2 (1)(4))(3)(5 6)(7 8)"
	if got := FormatThreads(threads, bySeqNumber(msgs)); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := FormatThreads(threads, func(i int) uint32 { return msgs[i].UID }); got != "(102 (101)(104))(103)(105 106)(107 108)" {
		t.Errorf("by UID: %s", got)
	}
}

func TestFormatThreads(t *testing.T) {
	n := func(i int, kids ...Node) Node { return Node{Index: i, Children: kids} }
	d := func(kids ...Node) Node { return Node{Index: -1, Children: kids} }
	for _, tc := range []struct {
		name    string
		threads []Node
		want    string
	}{
		{"RFC 5256 section 4", []Node{n(2), n(3, n(6, n(4, n(23)), n(44, n(7, n(96)))))}, "(2)(3 6 (4 23)(44 7 96))"},
		{"dummy head", []Node{d(n(3), n(5))}, "((3)(5))"},
		{"nested lists inside nested lists", []Node{n(1, n(2, n(3), n(4)), n(5))}, "(1 (2 (3)(4))(5))"},
		{"dummy head with a chain", []Node{d(n(1, n(2)), n(3))}, "((1 2)(3))"},
		{"childless dummy left out", []Node{d(), n(1, d())}, "(1)"},
		{"single-child dummy replaced", []Node{d(n(1)), n(2, d(n(3)))}, "(1)(2 3)"},
		{"dummy below a message", []Node{n(1, d(n(2), n(3)))}, "(1 (2)(3))"},
		{"dummy of empty dummies", []Node{d(d(), d())}, ""},
		{"nothing", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatThreads(tc.threads, func(i int) uint32 { return uint32(i) }); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseAlgorithm(t *testing.T) {
	for _, name := range []string{"references", "ORDEREDSUBJECT"} {
		if a, ok := ParseAlgorithm(name); !ok || a.String() != upper(name) {
			t.Errorf("ParseAlgorithm(%q) = %v, %v", name, a, ok)
		}
	}
	if _, ok := ParseAlgorithm("REFS"); ok {
		t.Error("REFS accepted")
	}
	if Thread(mailbox(msg{1, "", "", "", "a", 1}), Algorithm(9), UnicodeCasemap) != nil {
		t.Error("unknown algorithm threaded")
	}
}

// checkOnce fails unless every message is in the threads exactly once and
// every dummy has children.
func checkOnce(t testing.TB, msgs []Message, threads []Node) {
	t.Helper()
	if err := once(len(msgs), threads); err != nil {
		t.Fatal(err)
	}
}

func once(n int, threads []Node) error {
	seen := make([]int, n)
	var walk func([]Node) error
	walk = func(list []Node) error {
		for _, x := range list {
			switch {
			case x.Index >= n || x.Index < -1:
				return fmt.Errorf("index %d out of range", x.Index)
			case x.Index >= 0:
				seen[x.Index]++
			case len(x.Children) == 0:
				return fmt.Errorf("dummy without children")
			}
			if err := walk(x.Children); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(threads); err != nil {
		return err
	}
	for i, c := range seen {
		if c != 1 {
			return fmt.Errorf("message %d appears %d times", i, c)
		}
	}
	return nil
}
