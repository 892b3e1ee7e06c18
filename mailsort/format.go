package mailsort

import "strconv"

// FormatThreads returns the thread lists of a THREAD response, what
// follows "* THREAD " (RFC 5256 section 5, thread-list): "(2)(3 6 (4 23)(44
// 7 96))", a dummy head as "((3)(5))". number gives the number printed
// for a message index: its sequence number, or its UID for UID THREAD.
// Dummies without children are left out and a dummy with one child is
// replaced by it, so any tree gives valid syntax.
func FormatThreads(threads []Node, number func(index int) uint32) string {
	return string(AppendThreads(nil, threads, number))
}

// AppendThreads appends what FormatThreads returns to dst.
func AppendThreads(dst []byte, threads []Node, number func(index int) uint32) []byte {
	for _, n := range visible(threads) {
		dst = append(dst, '(')
		dst = appendMembers(dst, n, number)
		dst = append(dst, ')')
	}
	return dst
}

// appendMembers appends the inside of a thread-list for n:
//
//	thread-members = nz-number *(SP nz-number) [SP thread-nested]
//	thread-nested  = 2*thread-list
//
// n is a message, or a dummy with two or more children (visible).
func appendMembers(dst []byte, n Node, number func(int) uint32) []byte {
	for {
		if n.Index < 0 {
			// A dummy (visible made sure it has two or more children
			// to print): only its children, as nested lists.
			return appendNested(dst, n.Children, number)
		}
		dst = strconv.AppendUint(dst, uint64(number(n.Index)), 10)
		kids := visible(n.Children)
		switch len(kids) {
		case 0:
			return dst
		case 1:
			// A single reply continues the same list.
			dst = append(dst, ' ')
			n = kids[0]
			continue
		}
		dst = append(dst, ' ')
		return appendNested(dst, kids, number)
	}
}

func appendNested(dst []byte, kids []Node, number func(int) uint32) []byte {
	for _, k := range kids {
		dst = append(dst, '(')
		dst = appendMembers(dst, k, number)
		dst = append(dst, ')')
	}
	return dst
}

// visible returns the nodes as they are printed: a dummy without a
// message below it left out, a dummy over one printed node replaced by
// it.
func visible(list []Node) []Node {
	ok := true
	for _, n := range list {
		if n.Index < 0 {
			ok = false
			break
		}
	}
	if ok {
		return list
	}
	out := make([]Node, 0, len(list))
	for _, n := range list {
		if n.Index >= 0 {
			out = append(out, n)
			continue
		}
		switch kids := visible(n.Children); len(kids) {
		case 0:
		case 1:
			out = append(out, kids[0])
		default:
			out = append(out, Node{Index: -1, Children: kids})
		}
	}
	return out
}
