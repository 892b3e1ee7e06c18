package mailsort

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// fuzzMailbox reads a test mailbox from fuzz input: a message per line,
// fields separated by "|": Message-ID, References, In-Reply-To, Subject,
// Date, From, To. Sequence numbers follow the lines.
func fuzzMailbox(data string) []Message {
	if data == "" {
		return nil
	}
	lines := strings.Split(data, "\n")
	msgs := make([]Message, len(lines))
	for i, line := range lines {
		f := strings.Split(line, "|")
		for len(f) < 7 {
			f = append(f, "")
		}
		internal := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i%5) * time.Hour)
		msgs[i] = Message{
			Seq: uint32(i + 1), UID: uint32(2*i + 1), Internal: internal,
			MessageID: f[0], References: f[1], InReplyTo: f[2], Subject: f[3],
			Sent: SentDate(f[4], internal), From: FirstAddress(f[5]), To: FirstAddress(f[6]),
			Size: int64(len(line)),
		}
	}
	return msgs
}

// FuzzThread checks, for any mailbox, that both algorithms place every
// message exactly once, that ORDEREDSUBJECT has no grandchildren, that the
// printed form is valid thread-list syntax naming every message, and that
// SORT returns a permutation. The seeds are in testdata/fuzz/FuzzThread.
func FuzzThread(f *testing.F) {
	f.Fuzz(func(t *testing.T, data string) {
		msgs := fuzzMailbox(data)
		for _, alg := range []Algorithm{References, OrderedSubject} {
			threads := Thread(msgs, alg, UnicodeCasemap)
			if err := once(len(msgs), threads); err != nil {
				t.Fatalf("%v: %v", alg, err)
			}
			if alg == OrderedSubject {
				for _, th := range threads {
					for _, c := range th.Children {
						if len(c.Children) > 0 {
							t.Fatalf("ORDEREDSUBJECT: grandchildren under %d", th.Index)
						}
					}
				}
			}
			out := FormatThreads(threads, func(i int) uint32 { return msgs[i].Seq })
			if err := checkThreadList(out, len(msgs)); err != nil {
				t.Fatalf("%v: %q: %v", alg, out, err)
			}
		}
		keys := []Key{Arrival, Cc, Date, From, Size, Subject, To, DisplayFrom, DisplayTo}
		for i, k := range keys {
			crit := []Criterion{{Key: k, Reverse: i%2 == 1}, {Key: keys[(i+3)%len(keys)]}}
			order := Sort(msgs, crit, Collation(i%2))
			seen := make([]bool, len(msgs))
			for _, j := range order {
				if seen[j] {
					t.Fatalf("SORT %v: %d twice", crit, j)
				}
				seen[j] = true
			}
			if len(order) != len(msgs) {
				t.Fatalf("SORT %v: %d of %d messages", crit, len(order), len(msgs))
			}
		}
	})
}

// checkThreadList checks the syntax of a THREAD response's thread lists
// (RFC 5256 section 5) and that they name n distinct numbers 1 to n:
//
//	thread-list    = "(" (thread-members / thread-nested) ")"
//	thread-members = nz-number *(SP nz-number) [SP thread-nested]
//	thread-nested  = 2*thread-list
func checkThreadList(s string, n int) error {
	p := &listParser{s: s, seen: map[int]bool{}}
	for p.i < len(s) {
		if err := p.list(); err != nil {
			return err
		}
	}
	if len(p.seen) != n {
		return fmt.Errorf("%d numbers, want %d", len(p.seen), n)
	}
	return nil
}

type listParser struct {
	s    string
	i    int
	seen map[int]bool
}

func (p *listParser) list() error {
	if !p.eat('(') {
		return fmt.Errorf("at %d: want (", p.i)
	}
	if p.peek() == '(' {
		if err := p.nested(); err != nil {
			return err
		}
	} else if err := p.members(); err != nil {
		return err
	}
	if !p.eat(')') {
		return fmt.Errorf("at %d: want )", p.i)
	}
	return nil
}

func (p *listParser) members() error {
	for {
		if err := p.number(); err != nil {
			return err
		}
		if p.peek() != ' ' {
			return nil
		}
		p.i++
		if p.peek() == '(' {
			return p.nested()
		}
	}
}

func (p *listParser) nested() error {
	count := 0
	for p.peek() == '(' {
		if err := p.list(); err != nil {
			return err
		}
		count++
	}
	if count < 2 {
		return fmt.Errorf("at %d: thread-nested of %d lists", p.i, count)
	}
	return nil
}

func (p *listParser) number() error {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if p.i == start || p.s[start] == '0' {
		return fmt.Errorf("at %d: want nz-number", start)
	}
	var v int
	fmt.Sscan(p.s[start:p.i], &v)
	if p.seen[v] {
		return fmt.Errorf("number %d twice", v)
	}
	p.seen[v] = true
	return nil
}

func (p *listParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *listParser) eat(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

// FuzzBaseSubject checks that any subject gives a base subject without
// leading or trailing white space, and that reading it never panics.
func FuzzBaseSubject(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		base, _ := BaseSubject(raw)
		if strings.TrimLeft(base, " \t") != base || strings.TrimRight(base, " \t") != base {
			t.Fatalf("BaseSubject(%q) = %q: white space at an end", raw, base)
		}
		UnicodeCasemap.Key(base)
	})
}
