package mailsort

import (
	"cmp"
	"slices"
	"strings"
)

// Algorithm is a THREAD algorithm (RFC 5256 section 3).
type Algorithm int

// The threading algorithms.
const (
	// OrderedSubject is THREAD=ORDEREDSUBJECT: one thread per base
	// subject, the later messages children of the first.
	OrderedSubject Algorithm = iota + 1
	// References is THREAD=REFERENCES: threads from Message-ID,
	// References and In-Reply-To, joined by base subject.
	References
)

// ParseAlgorithm returns the algorithm a THREAD command names, ignoring
// case.
func ParseAlgorithm(name string) (Algorithm, bool) {
	switch strings.ToUpper(name) {
	case "ORDEREDSUBJECT":
		return OrderedSubject, true
	case "REFERENCES":
		return References, true
	}
	return 0, false
}

// String returns the algorithm's name as THREAD spells it.
func (a Algorithm) String() string {
	switch a {
	case OrderedSubject:
		return "ORDEREDSUBJECT"
	case References:
		return "REFERENCES"
	}
	return "Algorithm(?)"
}

// Node is a message in a thread tree, or a dummy standing for the common
// parent of its children (THREAD=REFERENCES leaves dummies only at the
// top level).
type Node struct {
	// Index is the message's index in the slice given to Thread, -1 for
	// a dummy.
	Index int
	// Children are the node's replies, oldest first.
	Children []Node
}

// Thread returns the threads of msgs under the algorithm, oldest first
// (RFC 5256 section 3). Every message appears exactly once. An unknown
// algorithm gives nil.
func Thread(msgs []Message, alg Algorithm, coll Collation) []Node {
	t := &threader{msgs: msgs, coll: coll}
	switch alg {
	case OrderedSubject:
		return t.orderedSubject()
	case References:
		return t.references()
	}
	return nil
}

// threader holds one Thread call's state. Containers 0..len(msgs)-1 are
// the messages, in order; dummies follow.
type threader struct {
	msgs []Message
	coll Collation

	subjects []subject // per message, computed when first needed
	seconds  []int64   // per message: the sent date, as SORT compares it

	isMsg    []bool    // per container: false for a dummy
	parent   []int32   // per container, -1 for none (step 1)
	nkids    []int32   // per container, its number of children (step 1)
	children [][]int32 // per container (steps 2 to 6)
}

type subject struct {
	done  bool
	key   string // the base subject's collation key
	reply bool   // a reply or forward (RFC 5256 section 3, REFERENCES)
}

// subject returns message i's base subject key and whether it is a
// reply or forward.
func (t *threader) subject(i int) (string, bool) {
	if t.subjects == nil {
		t.subjects = make([]subject, len(t.msgs))
	}
	s := &t.subjects[i]
	if !s.done {
		base, reply := BaseSubject(t.msgs[i].Subject)
		*s = subject{done: true, key: t.coll.Key(base), reply: reply}
	}
	return s.key, s.reply
}

func (t *threader) sentSeconds() {
	t.seconds = make([]int64, len(t.msgs))
	for i := range t.msgs {
		t.seconds[i] = seconds(t.msgs[i].sentDate())
	}
}

// byDate orders two messages by sent date, then sequence number (RFC
// 5256 section 2.2).
func (t *threader) byDate(a, b int) int {
	if r := cmp.Compare(t.seconds[a], t.seconds[b]); r != 0 {
		return r
	}
	return bySeq(t.msgs, a, b)
}

// orderedSubject is THREAD=ORDEREDSUBJECT: the messages sorted by base
// subject, then sent date; one thread per base subject, whose first
// message is the root and the others its children; the threads sorted by
// their first message's sent date.
func (t *threader) orderedSubject() []Node {
	t.sentSeconds()
	order := make([]int, len(t.msgs))
	for i := range order {
		order[i] = i
		t.subject(i)
	}
	slices.SortFunc(order, func(a, b int) int {
		if r := strings.Compare(t.subjects[a].key, t.subjects[b].key); r != 0 {
			return r
		}
		return t.byDate(a, b)
	})
	var threads []Node
	for i := 0; i < len(order); {
		j := i + 1
		for j < len(order) && t.subjects[order[j]].key == t.subjects[order[i]].key {
			j++
		}
		root := Node{Index: order[i]}
		for _, k := range order[i+1 : j] {
			root.Children = append(root.Children, Node{Index: k})
		}
		threads = append(threads, root)
		i = j
	}
	slices.SortFunc(threads, func(a, b Node) int { return t.byDate(a.Index, b.Index) })
	return threads
}

// newContainer adds a container and returns its number.
func (t *threader) newContainer(isMsg bool) int32 {
	t.isMsg = append(t.isMsg, isMsg)
	t.parent = append(t.parent, -1)
	t.nkids = append(t.nkids, 0)
	return int32(len(t.isMsg) - 1)
}

// wouldLoop says whether making p the parent of c would make a loop: p
// is c or one of its descendants. A container without children has no
// descendants, which spares the walk up for the long chains of new
// dummies a long References field makes.
func (t *threader) wouldLoop(p, c int32) bool {
	if p == c {
		return true
	}
	if t.nkids[c] == 0 {
		return false
	}
	for x := p; x >= 0; x = t.parent[x] {
		if x == c {
			return true
		}
	}
	return false
}

// references is THREAD=REFERENCES (RFC 5256 section 3), steps 1 to 6.
func (t *threader) references() []Node {
	t.sentSeconds()
	n := len(t.msgs)
	t.isMsg = make([]bool, n, n+n/4)
	t.parent = make([]int32, n, n+n/4)
	t.nkids = make([]int32, n, n+n/4)
	for i := range n {
		t.isMsg[i], t.parent[i] = true, -1
	}
	// Message IDs: a message without a valid one, and every message
	// after the first with the same one, has an ID of its own that no
	// reference can name (it stays out of the table).
	ids := make(map[string]int32, n)
	for i := range t.msgs {
		if id := msgIDs(t.msgs[i].MessageID, 1); len(id) == 1 {
			if _, dup := ids[id[0]]; !dup {
				ids[id[0]] = int32(i)
			}
		}
	}
	container := func(id string) int32 {
		c, ok := ids[id]
		if !ok {
			c = t.newContainer(false) // a dummy for a message not here
			ids[id] = c
		}
		return c
	}
	for i := range t.msgs {
		t.link(int32(i), t.refs(&t.msgs[i]), container)
	}

	// (2) The containers without a parent are the threads' heads.
	t.children = make([][]int32, len(t.isMsg))
	var roots []int32
	for c, p := range t.parent {
		if p < 0 {
			roots = append(roots, int32(c))
		} else {
			t.children[p] = append(t.children[p], int32(c))
		}
	}
	roots = t.prune(roots, true) // (3)
	// (4) The heads by sent date, a dummy by its oldest child's.
	for _, c := range roots {
		if !t.isMsg[c] {
			t.sortSiblings(t.children[c])
		}
	}
	t.sortSiblings(roots)
	roots = t.groupBySubject(roots) // (5)
	t.sortTree(roots)               // (6)
	return t.nodes(roots)
}

// refs returns a message's references: the valid message IDs of its
// References field, else the first valid one of In-Reply-To.
func (t *threader) refs(m *Message) []string {
	if r := msgIDs(m.References, 0); len(r) > 0 {
		return r
	}
	return msgIDs(m.InReplyTo, 1)
}

// link is step 1 for message c: (A) its references linked parent to
// child where the child has no parent yet and no loop results, (B) the
// last reference made its parent, replacing the parent an earlier
// message's references gave it (a truncated References field), unless
// that would make a loop. A message without references ends without a
// parent.
func (t *threader) link(c int32, refs []string, container func(string) int32) {
	prev := int32(-1)
	for _, r := range refs {
		x := container(r)
		if prev >= 0 && t.parent[x] < 0 && !t.wouldLoop(prev, x) {
			t.setParent(x, prev)
		}
		prev = x
	}
	if t.parent[c] == prev {
		return
	}
	t.setParent(c, -1)
	if prev >= 0 && !t.wouldLoop(prev, c) {
		t.setParent(c, prev)
	}
}

// setParent makes p the parent of c (-1: none), counting children.
func (t *threader) setParent(c, p int32) {
	if old := t.parent[c]; old >= 0 {
		t.nkids[old]--
	}
	t.parent[c] = p
	if p >= 0 {
		t.nkids[p]++
	}
}

// prune is step 3 over a list of siblings: dummies without children go,
// dummies with children give way to them, except that at the top level a
// dummy with more than one child stays (its children would otherwise
// become separate threads).
func (t *threader) prune(list []int32, top bool) []int32 {
	out := make([]int32, 0, len(list))
	for _, c := range list {
		if len(t.children[c]) > 0 {
			t.children[c] = t.prune(t.children[c], false)
		}
		kids := t.children[c]
		switch {
		case t.isMsg[c]:
			out = append(out, c)
		case len(kids) == 0:
		case !top || len(kids) == 1:
			out = append(out, kids...)
		default:
			out = append(out, c)
		}
	}
	return out
}

// first is the message a container sorts and is named by: itself, or a
// dummy's first child's.
func (t *threader) first(c int32) int {
	for !t.isMsg[c] {
		if len(t.children[c]) == 0 {
			return -1
		}
		c = t.children[c][0]
	}
	return int(c)
}

// groupBySubject is step 5: the threads of one base subject joined.
func (t *threader) groupBySubject(roots []int32) []int32 {
	threadSubject := func(c int32) (string, bool) {
		f := t.first(c)
		if f < 0 {
			return "", false
		}
		key, _ := t.subject(f)
		return key, key != ""
	}
	reply := func(c int32) bool {
		if !t.isMsg[c] {
			return false
		}
		_, r := t.subject(int(c))
		return r
	}
	// (B) One container per subject: a dummy over a message, a
	// message over a reply.
	table := make(map[string]int32, len(roots))
	for _, c := range roots {
		s, ok := threadSubject(c)
		if !ok {
			continue
		}
		old, seen := table[s]
		if !seen || t.isMsg[old] && (!t.isMsg[c] || reply(old) && !reply(c)) {
			table[s] = c
		}
	}
	// (C) The others merged into it.
	gone := make(map[int32]bool)
	var added []int32
	for _, c := range roots {
		if gone[c] {
			continue
		}
		s, ok := threadSubject(c)
		if !ok || table[s] == c {
			continue
		}
		old := table[s]
		switch {
		case !t.isMsg[old] && !t.isMsg[c]:
			t.children[old] = append(t.children[old], t.children[c]...)
			t.children[c] = nil
		case !t.isMsg[old]:
			t.children[old] = append(t.children[old], c)
		case reply(c) && !reply(old):
			t.children[old] = append(t.children[old], c)
		default:
			d := t.newContainer(false)
			t.children = append(t.children, []int32{old, c})
			table[s] = d
			gone[old] = true
			added = append(added, d)
		}
		gone[c] = true
	}
	out := make([]int32, 0, len(roots)+len(added))
	for _, c := range roots {
		if !gone[c] {
			out = append(out, c)
		}
	}
	return append(out, added...)
}

// sortTree is step 6: every set of siblings sorted by sent date, the
// deepest first so that a dummy sorts by its oldest child.
func (t *threader) sortTree(list []int32) {
	for _, c := range list {
		if len(t.children[c]) > 0 {
			t.sortTree(t.children[c])
		}
	}
	t.sortSiblings(list)
}

// sortSiblings sorts a set of siblings by sent date (RFC 5256 section
// 2.2), a dummy by its first child's; a dummy's children are sorted
// already.
func (t *threader) sortSiblings(list []int32) {
	slices.SortFunc(list, func(a, b int32) int {
		fa, fb := t.first(a), t.first(b)
		if fa < 0 || fb < 0 {
			return cmp.Compare(fa, fb)
		}
		return t.byDate(fa, fb)
	})
}

// nodes turns containers into the Node tree.
func (t *threader) nodes(list []int32) []Node {
	if len(list) == 0 {
		return nil
	}
	out := make([]Node, len(list))
	for i, c := range list {
		out[i].Index = -1
		if t.isMsg[c] {
			out[i].Index = int(c)
		}
		out[i].Children = t.nodes(t.children[c])
	}
	return out
}
