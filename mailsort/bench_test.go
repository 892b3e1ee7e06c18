package mailsort

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchMailbox is a mailbox of n messages like a mailing list folder:
// threads of one to twenty messages, replies referencing their whole
// ancestry (some truncated, some by In-Reply-To only), subjects with
// list tags, "Re:" and the odd encoded word, a few messages without a
// Date or a Message-ID, and duplicates.
func benchMailbox(n int) []Message {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"alice", "Bob", "carol", "Dave", "eve", "Frank", "grace", "Heidi"}
	msgs := make([]Message, 0, n)
	type open struct {
		subject string
		ids     []string // the thread's messages' ids, by position
		refs    []string // each message's references
	}
	var threads []*open
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		m := Message{Seq: uint32(i + 1), UID: uint32(i + 1), Size: int64(1000 + r.IntN(100000)),
			Internal: base.Add(time.Duration(i) * time.Minute)}
		id := fmt.Sprintf("<%d.%d@list.example.test>", i, r.Uint32())
		if r.IntN(200) == 0 {
			id = "" // no Message-ID
		}
		if len(threads) == 0 || r.IntN(5) == 0 {
			th := &open{subject: fmt.Sprintf("topic %d about %s", len(threads), names[r.IntN(len(names))])}
			if r.IntN(10) == 0 {
				th.subject = "=?utf-8?q?th=C3=A8me_" + fmt.Sprint(len(threads)) + "?="
			}
			threads = append(threads, th)
			m.Subject = "[list] " + th.subject
			th.ids, th.refs = []string{id}, []string{""}
		} else {
			th := threads[len(threads)-1-r.IntN(min(len(threads), 20))]
			p := r.IntN(len(th.ids))
			refs := th.refs[p] + " " + th.ids[p]
			switch r.IntN(10) {
			case 0:
				m.InReplyTo = th.ids[p] // In-Reply-To only
			case 1:
				m.References = th.ids[p] // truncated
			default:
				m.References = refs
			}
			m.Subject = "Re: [list] " + th.subject
			th.ids, th.refs = append(th.ids, id), append(th.refs, refs)
		}
		if r.IntN(300) == 0 && len(msgs) > 0 {
			id = msgs[r.IntN(len(msgs))].MessageID // a duplicate
		}
		m.MessageID = id
		if r.IntN(50) != 0 {
			m.Sent = m.Internal.Add(-time.Duration(r.IntN(3600)) * time.Second)
		}
		from := names[r.IntN(len(names))]
		m.From = Address{Name: from + " Example", Mailbox: from, Host: "example.test"}
		m.To = Address{Name: "List", Mailbox: "list", Host: "list.example.test"}
		if r.IntN(3) == 0 {
			m.Cc = Address{Mailbox: names[r.IntN(len(names))], Host: "example.test"}
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func BenchmarkSort10k(b *testing.B) {
	msgs := benchMailbox(10000)
	for _, bc := range []struct {
		name string
		crit []Criterion
	}{
		{"DATE", []Criterion{{Key: Date}}},
		{"REVERSE_ARRIVAL", []Criterion{{Key: Arrival, Reverse: true}}},
		{"SUBJECT_DATE", []Criterion{{Key: Subject}, {Key: Date}}},
		{"DISPLAYFROM", []Criterion{{Key: DisplayFrom}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				Sort(msgs, bc.crit, UnicodeCasemap)
			}
		})
	}
}

func BenchmarkThread10k(b *testing.B) {
	msgs := benchMailbox(10000)
	for _, alg := range []Algorithm{References, OrderedSubject} {
		b.Run(alg.String(), func(b *testing.B) {
			for b.Loop() {
				threads := Thread(msgs, alg, UnicodeCasemap)
				AppendThreads(nil, threads, func(i int) uint32 { return msgs[i].UID })
			}
		})
	}
}

// TestBenchMailbox keeps the benchmark's mailbox honest: every message
// threaded once, and REFERENCES finds threads, not one per message.
func TestBenchMailbox(t *testing.T) {
	msgs := benchMailbox(2000)
	threads := Thread(msgs, References, UnicodeCasemap)
	checkOnce(t, msgs, threads)
	if len(threads) > len(msgs)/3 {
		t.Errorf("%d threads of %d messages", len(threads), len(msgs))
	}
}

// BenchmarkThreadLongReferences is one message whose References field
// fills a 1 MiB header (30,000 IDs) in a 10,000-message mailbox: the
// chain of dummies it makes must not cost a walk per link.
func BenchmarkThreadLongReferences(b *testing.B) {
	msgs := benchMailbox(10000)
	var refs []byte
	for i := range 30000 {
		refs = fmt.Appendf(refs, "<long.%d@example.test> ", i)
	}
	msgs[5000].References = string(refs)
	for b.Loop() {
		Thread(msgs, References, UnicodeCasemap)
	}
}
