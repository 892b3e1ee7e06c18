package contentfilter

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Checks are the built-in checks of one message: rules in order (the
// global ones, then the recipient domains'), the banned attachments, the
// walker's limits.
type Checks struct {
	Rules  []*Rule
	Banned *Banned // nil: no attachment is banned
	Limits Limits
}

// Reply is an SMTP reply the MTA gives for a refused message.
type Reply struct {
	Code     int
	Enhanced [3]int
	Text     string
}

// Result is what the checks decided about a message.
type Result struct {
	// Verb is Reject, Discard or Hold, or "" to accept. Reject wins over
	// Discard, which wins over Hold; the first rule that rejects or
	// discards ends the checks (Postfix).
	Verb   Verb
	Reply  Reply  // for Reject
	Reason string // for the mail log: the rule or the banned attachment
	// Redirect, when set, replaces the recipients (the last REDIRECT
	// rule that matched).
	Redirect string
	// Warnings are the WARN rules that matched, for the log.
	Warnings []string
	// Header is the message's header section rewritten by IGNORE and
	// PREPEND rules, nil when unchanged; the body is unchanged.
	Header []byte
	// HeaderSize is the length of the original header section in msg.
	HeaderSize int
}

// errStop ends the walk at a rejection or discard.
var errStop = errors.New("stop")

// Check runs the checks on msg (header and body as received).
func (c *Checks) Check(msg []byte) Result {
	var res Result
	if len(c.Rules) == 0 && c.Banned == nil {
		return res
	}
	var hdr, body, mimeHdr []*Rule
	for _, r := range c.Rules {
		switch r.Kind {
		case KindHeader:
			hdr = append(hdr, r)
		case KindBody:
			body = append(body, r)
		case KindMIMEHeader:
			mimeHdr = append(mimeHdr, r)
		}
	}
	top := splitHeader(msg)
	res.HeaderSize = top.size
	if res.applyTop(hdr, top) {
		return res
	}
	err := Walk(msg, c.Limits, func(p *Part) error {
		if p.Depth > 0 && len(hdr) > 0 && p.Attached {
			// An attached message's own header (Postfix nested_header_checks).
			inner := splitHeader(p.Body)
			for _, f := range inner.fields {
				if res.match(hdr, f.line) {
					return errStop
				}
			}
		}
		for f := p.Header.Fields(); len(mimeHdr) > 0 && f.Next(); {
			if !strings.HasPrefix(f.Key(), "Content-") {
				continue
			}
			if res.match(mimeHdr, f.Key()+": "+f.Value()) {
				return errStop
			}
		}
		if c.Banned != nil && !p.Multipart {
			if why := c.Banned.check(p); why != "" {
				res.reject("banned "+why, Reply{554, [3]int{5, 7, 1}, "Message content rejected: " + why})
				return errStop
			}
		}
		if len(body) > 0 && !p.Multipart && !p.Attached && strings.HasPrefix(p.MediaType, "text/") {
			if res.bodyLines(body, p) {
				return errStop
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrTooDeep):
		res.reject("mime: "+err.Error(), Reply{554, [3]int{5, 6, 0},
			fmt.Sprintf("Message content rejected: MIME parts nested deeper than %d levels", c.Limits.orDefault().MaxDepth)})
	case errors.Is(err, ErrTooManyParts):
		res.reject("mime: "+err.Error(), Reply{554, [3]int{5, 6, 0},
			fmt.Sprintf("Message content rejected: more than %d MIME parts", c.Limits.orDefault().MaxParts)})
	}
	return res
}

// applyTop runs the header rules on the message's own fields, applying
// IGNORE and PREPEND; true when a rule ended the checks.
func (res *Result) applyTop(rules []*Rule, top header) bool {
	if len(rules) == 0 {
		return false
	}
	var out []byte
	changed := false
	for _, f := range top.fields {
		keep := true
		for _, r := range rules {
			if !r.Matches(f.line) {
				continue
			}
			switch r.Verb {
			case Ignore:
				keep, changed = false, true
			case Prepend:
				out = append(out, r.Text...)
				out = append(out, "\r\n"...)
				changed = true
			default:
				if res.act(r, f.line) {
					return true
				}
			}
			break // the first matching rule of a line applies (regexp_table)
		}
		if keep {
			out = append(out, f.raw...)
		}
	}
	if changed {
		res.Header = append(out, top.rest...)
	}
	return false
}

// match applies the first rule matching line; true when it ended the checks.
func (res *Result) match(rules []*Rule, line string) bool {
	for _, r := range rules {
		if r.Matches(line) {
			return res.act(r, line)
		}
	}
	return false
}

// act applies a matching rule's action; true when it ended the checks.
func (res *Result) act(r *Rule, line string) bool {
	why := string(r.Kind) + " rule " + r.Source
	switch r.Verb {
	case Reject:
		res.reject(why, rejectReply(r.Text))
		return true
	case Discard:
		res.Verb, res.Reason = Discard, why
		return true
	case Hold:
		res.Verb, res.Reason = Hold, why
	case Redirect:
		res.Redirect = r.Text
		res.Warnings = append(res.Warnings, why+": redirect to "+r.Text)
	case Warn:
		res.Warnings = append(res.Warnings, why+": "+truncate(line, 200))
	}
	return false // IGNORE and PREPEND elsewhere than the top header: nothing to do
}

// rejectReply is a REJECT rule's reply: 550 with the rule's text, its
// enhanced status code taken from the text when it starts with a 5.x.x
// one (as Postfix reads it), else 5.7.1 (RFC 3463: not authorized).
func rejectReply(text string) Reply {
	rep := Reply{Code: 550, Enhanced: [3]int{5, 7, 1}, Text: text}
	if first, rest, _ := strings.Cut(text, " "); strings.HasPrefix(first, "5.") {
		var a, b, c int
		if n, _ := fmt.Sscanf(first, "%d.%d.%d", &a, &b, &c); n == 3 && b >= 0 && b < 1000 && c >= 0 && c < 1000 &&
			first == fmt.Sprintf("%d.%d.%d", a, b, c) {
			rep.Enhanced, rep.Text = [3]int{a, b, c}, rest
		}
	}
	if rep.Text == "" {
		rep.Text = "Message content rejected"
	}
	return rep
}

func (res *Result) reject(why string, rep Reply) {
	res.Verb, res.Reason, res.Reply = Reject, why, rep
}

// bodyLines runs the body rules on a text part's lines; true when one
// ended the checks.
func (res *Result) bodyLines(rules []*Rule, p *Part) bool {
	text := decodeBody(p)
	if len(text) > BodyCheckBytes {
		text = text[:BodyCheckBytes]
	}
	s := toUTF8(p.Params["charset"], string(text))
	for len(s) > 0 {
		line, rest, _ := strings.Cut(s, "\n")
		s = rest
		if res.match(rules, strings.TrimSuffix(line, "\r")) {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// header is a header section split into its fields as they are on the wire.
type header struct {
	fields []field
	rest   []byte // the empty line that ends the section, if any
	size   int    // bytes of the section, the empty line included
}

type field struct {
	raw  []byte // the field's lines with their line ends
	line string // unfolded "Name: value", as rules see it
}

// splitHeader splits the header section at the start of msg into fields:
// a field is a line and the lines after it starting with white space.
// The section ends at the first empty line (or the end of msg, at most
// 1 MiB in: what follows is body to the rules).
func splitHeader(msg []byte) header {
	var h header
	const limit = 1 << 20
	pos := 0
	for pos < len(msg) && pos < limit {
		eol := bytes.IndexByte(msg[pos:], '\n')
		next := len(msg)
		if eol >= 0 {
			next = pos + eol + 1
		}
		line := msg[pos:next]
		if len(bytes.TrimRight(line, "\r\n")) == 0 { // the empty line
			h.rest = line
			pos = next
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(h.fields) > 0 {
			f := &h.fields[len(h.fields)-1]
			f.raw = msg[pos-len(f.raw) : next]
		} else {
			h.fields = append(h.fields, field{raw: line})
		}
		pos = next
	}
	h.size = pos
	for i := range h.fields {
		h.fields[i].line = unfold(h.fields[i].raw)
	}
	return h
}

// unfold joins a field's lines (RFC 5322 2.2.3) without its final line end.
func unfold(raw []byte) string {
	s := strings.TrimRight(string(raw), "\r\n")
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "")
	return strings.ReplaceAll(s, "\n", "")
}
