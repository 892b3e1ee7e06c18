package mailsort

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Key is a SORT criterion's key (RFC 5256 section 3, RFC 5957 section 4).
type Key int

// The sort keys.
const (
	// Arrival is the INTERNALDATE.
	Arrival Key = iota + 1
	// Cc is the addr-mailbox of the first Cc address.
	Cc
	// Date is the sent date (SentDate).
	Date
	// From is the addr-mailbox of the first From address.
	From
	// Size is RFC822.SIZE.
	Size
	// Subject is the base subject (BaseSubject).
	Subject
	// To is the addr-mailbox of the first To address.
	To
	// DisplayFrom is the display value of the first From address (RFC
	// 5957 section 3): its decoded display name, else mailbox@host.
	DisplayFrom
	// DisplayTo is the display value of the first To address.
	DisplayTo
)

var keyNames = map[string]Key{
	"ARRIVAL": Arrival, "CC": Cc, "DATE": Date, "FROM": From, "SIZE": Size,
	"SUBJECT": Subject, "TO": To, "DISPLAYFROM": DisplayFrom, "DISPLAYTO": DisplayTo,
}

// ParseKey returns the key a sort-key atom names, ignoring case ("date",
// "DISPLAYFROM"); REVERSE is not a key but a Criterion's flag.
func ParseKey(atom string) (Key, bool) {
	k, ok := keyNames[strings.ToUpper(atom)]
	return k, ok
}

// String returns the key's name as SORT spells it.
func (k Key) String() string {
	for name, v := range keyNames {
		if v == k {
			return name
		}
	}
	return "Key(?)"
}

// Criterion is one sort criterion: a key, and REVERSE before it.
type Criterion struct {
	Key     Key
	Reverse bool
}

// Sort returns the order of msgs under the criteria (RFC 5256 section
// 3), as indexes into msgs: by the first criterion, ties by the next,
// and messages equal under all of them by ascending sequence number
// (REVERSE does not turn that last rule around). Strings compare with
// the collation. An unknown key is ignored.
func Sort(msgs []Message, crit []Criterion, coll Collation) []int {
	cols := make([]column, 0, len(crit))
	for _, c := range crit {
		if col, ok := makeColumn(msgs, c, coll); ok {
			cols = append(cols, col)
		}
	}
	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		for _, col := range cols {
			if r := col.compare(a, b); r != 0 {
				return r
			}
		}
		return bySeq(msgs, a, b)
	})
	return order
}

// bySeq orders two messages by sequence number, then by their place in
// the slice (for callers that left Seq zero).
func bySeq(msgs []Message, a, b int) int {
	if r := cmp.Compare(msgs[a].Seq, msgs[b].Seq); r != 0 {
		return r
	}
	return cmp.Compare(a, b)
}

// column is one criterion's values, computed once per message.
type column struct {
	strs    []string
	nums    []int64
	reverse bool
}

func (c *column) compare(a, b int) int {
	var r int
	if c.strs != nil {
		r = strings.Compare(c.strs[a], c.strs[b])
	} else {
		r = cmp.Compare(c.nums[a], c.nums[b])
	}
	if c.reverse {
		return -r
	}
	return r
}

func makeColumn(msgs []Message, c Criterion, coll Collation) (column, bool) {
	col := column{reverse: c.Reverse}
	str := func(f func(m *Message) string) {
		col.strs = make([]string, len(msgs))
		for i := range msgs {
			col.strs[i] = coll.Key(f(&msgs[i]))
		}
	}
	num := func(f func(m *Message) int64) {
		col.nums = make([]int64, len(msgs))
		for i := range msgs {
			col.nums[i] = f(&msgs[i])
		}
	}
	switch c.Key {
	case Arrival:
		num(func(m *Message) int64 { return seconds(m.Internal) })
	case Date:
		num(func(m *Message) int64 { return seconds(m.sentDate()) })
	case Size:
		num(func(m *Message) int64 { return m.Size })
	case Cc:
		str(func(m *Message) string { return m.Cc.Mailbox })
	case From:
		str(func(m *Message) string { return m.From.Mailbox })
	case To:
		str(func(m *Message) string { return m.To.Mailbox })
	case DisplayFrom:
		str(func(m *Message) string { return m.From.display() })
	case DisplayTo:
		str(func(m *Message) string { return m.To.display() })
	case Subject:
		str(func(m *Message) string { s, _ := BaseSubject(m.Subject); return s })
	default:
		return col, false
	}
	return col, true
}

// seconds is a time as SORT compares it: to the second, as IMAP writes
// INTERNALDATE and as Date fields hold it.
func seconds(t time.Time) int64 { return t.Unix() }

// display is the address's display value (RFC 5957 section 3): the
// decoded display name if not empty, else addr-mailbox "@" addr-host,
// else addr-mailbox, else "".
func (a Address) display() string {
	if name := strings.TrimSpace(collapseSpace(decodeWords(a.Name))); name != "" {
		return name
	}
	if a.Mailbox != "" && a.Host != "" {
		return a.Mailbox + "@" + a.Host
	}
	return a.Mailbox
}
