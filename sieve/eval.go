package sieve

import (
	"mime"
	"strconv"
	"strings"

	"mailhost/mailheader"
)

func (t testConst) eval(*run) (bool, error) { return bool(t), nil }

func (t testNot) eval(r *run) (bool, error) {
	ok, err := t.t.eval(r)
	return !ok, err
}

func (t testAll) eval(r *run) (bool, error) {
	for _, x := range t.ts {
		ok, err := x.eval(r)
		if err != nil {
			return false, err
		}
		if ok == t.any {
			return ok, nil
		}
	}
	return !t.any, nil
}

func (t testExists) eval(r *run) (bool, error) {
	for _, n := range r.expandAll(t.names) {
		if len(r.in.Message.Header(n)) == 0 {
			return false, nil
		}
	}
	return true, nil
}

func (t testMailboxExists) eval(r *run) (bool, error) {
	if r.in.Mailboxes == nil {
		return false, nil
	}
	for _, n := range r.expandAll(t.names) {
		if !r.in.Mailboxes.MailboxExists(n) {
			return false, nil
		}
	}
	return true, nil
}

func (t testSize) eval(r *run) (bool, error) {
	if t.over {
		return r.in.Message.Size() > t.n, nil
	}
	return r.in.Message.Size() < t.n, nil
}

// matched records the match variables of a successful :matches or :regex
// (RFC 5229 3.2); a failed test leaves them as they were.
func (r *run) matched(ok bool, vars []string) {
	if ok && vars != nil {
		r.match = vars
	}
}

// wordDecoder decodes RFC 2047 encoded words in header values, as RFC 5228
// 5.7 asks; charsets beyond UTF-8, ASCII and Latin-1 come from go-message.
var wordDecoder = mime.WordDecoder{CharsetReader: charsetReader}

// fieldValues returns the values of the named fields, :index applied.
func (r *run) fieldValues(names []string, index int, last bool) []string {
	var vals []string
	for _, n := range names {
		vals = append(vals, r.in.Message.Header(n)...)
	}
	return pickIndex(vals, index, last)
}

// pickIndex keeps the index-th value (from the end with :last) (RFC 5260 6).
func pickIndex[T any](vals []T, index int, last bool) []T {
	if index == 0 {
		return vals
	}
	if index > len(vals) {
		return nil
	}
	if last {
		return vals[len(vals)-index : len(vals)-index+1]
	}
	return vals[index-1 : index]
}

// fieldCache holds what the header and address tests of one run read of
// the message, by lower-case field name: a script testing Subject fifty
// times decodes it once.
type fieldCache struct {
	decoded map[string][]string    // values with encoded words decoded, trimmed
	addrs   map[string][]addrField // values read as address lists
}

// addrField is one field's value read as an address list: its addr-specs,
// or, when it is not one, the trimmed value (ok false).
type addrField struct {
	addrs []string
	value string
	ok    bool
}

// decodedValues returns the values of the fields called name, their
// encoded words decoded (RFC 5228 2.7.2), trimmed. The caller must not
// change the slice.
func (r *run) decodedValues(name string) []string {
	k := strings.ToLower(name)
	if v, ok := r.fields.decoded[k]; ok {
		return v
	}
	raw := r.in.Message.Header(name)
	out := make([]string, len(raw))
	for i, v := range raw {
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			v = d
		}
		out[i] = strings.TrimSpace(v)
	}
	if r.fields.decoded == nil {
		r.fields.decoded = map[string][]string{}
	}
	r.fields.decoded[k] = out
	return out
}

// addressFields returns the fields called name read as address lists. The
// caller must not change the slice.
func (r *run) addressFields(name string) []addrField {
	k := strings.ToLower(name)
	if v, ok := r.fields.addrs[k]; ok {
		return v
	}
	raw := r.in.Message.Header(name)
	out := make([]addrField, len(raw))
	for i, v := range raw {
		addrs, err := mailheader.ParseAddressList(v)
		out[i] = addrField{addrs: addrs, value: strings.TrimSpace(v), ok: err == nil}
	}
	if r.fields.addrs == nil {
		r.fields.addrs = map[string][]addrField{}
	}
	r.fields.addrs[k] = out
	return out
}

// concat joins the lists f gives for each name; one name's list is
// returned as it is (read only).
func concat[T any](names []string, f func(string) []T) []T {
	if len(names) == 1 {
		return f(names[0])
	}
	var out []T
	for _, n := range names {
		out = append(out, f(n)...)
	}
	return out
}

func (t testHeader) eval(r *run) (bool, error) {
	names := t.constNames
	if names == nil {
		names = r.expandAll(t.names)
	}
	var vals []string
	switch {
	case t.envelope:
		for _, n := range names {
			switch strings.ToLower(n) {
			case "from":
				vals = appendAddressPart(vals, r.in.Envelope.From, t.part)
			case "to":
				vals = appendAddressPart(vals, r.in.Envelope.To, t.part)
			case "auth":
				if r.in.Envelope.Auth != "" {
					vals = appendAddressPart(vals, r.in.Envelope.Auth, t.part)
				}
			}
		}
	case t.addr:
		for _, f := range pickIndex(concat(names, r.addressFields), t.index, t.last) {
			if !f.ok {
				if t.part == "all" {
					vals = append(vals, f.value)
				}
				continue
			}
			for _, a := range f.addrs {
				vals = appendAddressPart(vals, a, t.part)
			}
		}
	default:
		vals = pickIndex(concat(names, r.decodedValues), t.index, t.last)
	}
	ok, vars, err := t.m.match(r, vals)
	r.matched(ok, vars)
	return ok, err
}

// appendAddressPart appends the part of an addr-spec a test compares (RFC
// 5228 2.7.4, RFC 5233 for user and detail); nothing when the part is
// absent.
func appendAddressPart(vals []string, addr, part string) []string {
	if part == "all" {
		return append(vals, addr)
	}
	local, domain := addr, ""
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		local, domain = addr[:at], addr[at+1:]
	}
	switch part {
	case "localpart":
		return append(vals, local)
	case "domain":
		return append(vals, domain)
	case "user":
		user, _, _ := strings.Cut(local, "+")
		return append(vals, user)
	case "detail":
		if _, detail, ok := strings.Cut(local, "+"); ok {
			return append(vals, detail)
		}
	}
	return vals
}

func (t testString) eval(r *run) (bool, error) {
	vals := r.expandAll(t.sources)
	if t.m.kind == mCount {
		// RFC 5229 5: :count counts the sources that are not empty.
		var nonEmpty []string
		for _, v := range vals {
			if v != "" {
				nonEmpty = append(nonEmpty, v)
			}
		}
		vals = nonEmpty
	}
	ok, vars, err := t.m.match(r, vals)
	r.matched(ok, vars)
	return ok, err
}

func (t testHasflag) eval(r *run) (bool, error) {
	var flags []string
	if t.vars == nil {
		flags = splitFlags(r.flags)
	} else {
		for _, v := range t.vars {
			s, _ := r.getVar(v.lit)
			flags = append(flags, splitFlags(s)...)
		}
	}
	ok, vars, err := t.m.match(r, flags)
	r.matched(ok, vars)
	return ok, err
}

// eval of spamtest and virustest (RFC 5235 3): "0" when not tested.
func (t testSpam) eval(r *run) (bool, error) {
	v := "0"
	if s := r.in.Scores; s != nil {
		if t.virus {
			if n, ok := s.Virus(); ok {
				v = strconv.Itoa(min(max(n, 1), 5))
			}
		} else if p, ok := s.Spam(); ok {
			p = min(max(p, 0), 1)
			if t.percent {
				v = strconv.Itoa(int(p*100 + 0.5))
			} else {
				v = strconv.Itoa(1 + int(p*9+0.5))
			}
		}
	}
	ok, vars, err := t.m.match(r, []string{v})
	r.matched(ok, vars)
	return ok, err
}
