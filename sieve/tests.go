package sieve

import (
	"maps"
	"regexp"
	"strings"
)

// test is a compiled test.
type test interface {
	eval(r *run) (bool, error)
}

type (
	testConst bool
	testNot   struct{ t test }
	testAll   struct {
		ts  []test
		any bool
	}
	testExists        struct{ names []sval }
	testMailboxExists struct{ names []sval }
	testSize          struct {
		over bool
		n    int64
	}
)

// testHeader is header, address and envelope: the values to match come from
// header fields (address: their addresses) or the envelope.
type testHeader struct {
	m          matcher
	names      []sval
	constNames []string // the names when none holds a variable
	addr       bool     // address and envelope: match address parts
	part       string   // all, localpart, domain, user, detail
	envelope   bool
	index      int // RFC 5260 :index, 0 if none
	last       bool
}

type testBody struct {
	m         matcher
	transform string // raw, content, text
	types     []sval
}

type testDate struct {
	m        matcher
	current  bool
	header   sval
	part     sval
	zone     *sval
	original bool
	index    int
	last     bool
}

type testString struct {
	m       matcher
	sources []sval
}

type testHasflag struct {
	m    matcher
	vars []sval
}

type testSpam struct {
	m       matcher
	virus   bool
	percent bool
}

var matchTags = map[string]tagDef{
	"comparator": {val: argStrings},
	"is":         {group: "match"},
	"contains":   {group: "match"},
	"matches":    {group: "match"},
	"regex":      {group: "match", ext: "regex"},
	"value":      {val: argStrings, group: "match", ext: "relational"},
	"count":      {val: argStrings, group: "match", ext: "relational"},
}

var addrTags = map[string]tagDef{
	"all": {group: "addr"}, "localpart": {group: "addr"}, "domain": {group: "addr"},
	"user": {group: "addr", ext: "subaddress"}, "detail": {group: "addr", ext: "subaddress"},
}

var indexTags = map[string]tagDef{
	"index": {val: argNumber, ext: "index"},
	"last":  {ext: "index"},
}

func union(ms ...map[string]tagDef) map[string]tagDef {
	out := map[string]tagDef{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

func (c *compiler) test(n *node) (test, *Error) {
	if n.hasBlock {
		return nil, errorf(n.line, "a test takes no block")
	}
	switch n.name {
	case "true", "false":
		if len(n.args) > 0 || len(n.tests) > 0 {
			return nil, errorf(n.line, "%s takes no arguments", n.name)
		}
		return testConst(n.name == "true"), nil
	case "not":
		if len(n.args) > 0 || len(n.tests) != 1 {
			return nil, errorf(n.line, "not takes one test")
		}
		t, err := c.test(n.tests[0])
		return testNot{t}, err
	case "anyof", "allof":
		if len(n.args) > 0 || len(n.tests) == 0 {
			return nil, errorf(n.line, "%s takes a list of tests", n.name)
		}
		all := testAll{any: n.name == "anyof"}
		for _, x := range n.tests {
			t, err := c.test(x)
			if err != nil {
				return nil, err
			}
			all.ts = append(all.ts, t)
		}
		return all, nil
	}
	if len(n.tests) > 0 {
		return nil, errorf(n.line, "%s takes no nested test", n.name)
	}
	switch n.name {
	case "exists", "mailboxexists":
		if n.name == "mailboxexists" {
			if err := c.need(n.line, "mailbox", n.name); err != nil {
				return nil, err
			}
		}
		a, err := c.split(n, nil)
		if err == nil {
			err = a.positional(n.name, "l")
		}
		if err != nil {
			return nil, err
		}
		names, err := c.strs(a.pos[0])
		if n.name == "exists" {
			return testExists{names}, err
		}
		return testMailboxExists{names}, err
	case "size":
		a, err := c.split(n, map[string]tagDef{"over": {group: "rel"}, "under": {group: "rel"}})
		if err == nil {
			err = a.positional("size", "n")
		}
		if err == nil && !a.has("over") && !a.has("under") {
			err = errorf(n.line, "size needs :over or :under")
		}
		if err != nil {
			return nil, err
		}
		return testSize{over: a.has("over"), n: a.pos[0].num}, nil
	case "header", "address", "envelope":
		return c.headerTest(n)
	case "body":
		return c.bodyTest(n)
	case "date", "currentdate":
		return c.dateTest(n)
	case "string":
		return c.stringTest(n)
	case "hasflag":
		return c.hasflagTest(n)
	case "spamtest", "virustest":
		return c.spamTest(n)
	}
	return nil, errorf(n.line, "unknown test %q", n.name)
}

// matcher reads the comparator and match type out of a and compiles keys.
func (c *compiler) matcher(a args, keys arg) (matcher, *Error) {
	m := matcher{kind: mIs, cmp: cmpCasemap}
	if v, ok := a.tags["comparator"]; ok {
		if len(v.strs) != 1 {
			return m, errorf(v.line, ":comparator takes one name")
		}
		switch name := strings.ToLower(v.strs[0]); name {
		case "i;octet":
			m.cmp = cmpOctet
		case "i;ascii-casemap":
		case "i;ascii-numeric":
			if err := c.need(v.line, "comparator-i;ascii-numeric", "comparator i;ascii-numeric"); err != nil {
				return m, err
			}
			m.cmp = cmpNumeric
		default:
			return m, errorf(v.line, "unknown comparator %q", name)
		}
	}
	for tag, kind := range map[string]matchKind{"contains": mContains, "matches": mMatches, "regex": mRegex, "value": mValue, "count": mCount} {
		v, ok := a.tags[tag]
		if !ok {
			continue
		}
		m.kind = kind
		if kind == mValue || kind == mCount {
			if len(v.strs) != 1 || !relOps[strings.ToLower(v.strs[0])] {
				return m, errorf(v.line, ":%s needs one of \"gt\", \"ge\", \"lt\", \"le\", \"eq\", \"ne\"", tag)
			}
			m.rel = strings.ToLower(v.strs[0])
		}
	}
	if m.cmp == cmpNumeric && (m.kind == mContains || m.kind == mMatches || m.kind == mRegex) {
		return m, errorf(a.line, "comparator i;ascii-numeric cannot be used with this match type")
	}
	var err *Error
	if m.keys, err = c.strs(keys); err != nil {
		return m, err
	}
	if m.kind == mMatches || m.kind == mRegex {
		m.re = make([]*regexp.Regexp, len(m.keys))
		for i, k := range m.keys {
			if k.parts != nil {
				continue
			}
			re, rerr := m.keyRegexp(k.lit)
			if rerr != nil {
				return m, errorf(keys.line, "bad pattern %q: %v", k.lit, rerr)
			}
			m.re[i] = re
		}
	}
	return m, nil
}

func (c *compiler) index(a args, t *int, last *bool) *Error {
	if v, ok := a.tags["index"]; ok {
		if v.num < 1 {
			return errorf(v.line, ":index counts from 1")
		}
		*t = int(v.num)
	}
	*last = a.has("last")
	if *last && *t == 0 {
		return errorf(a.line, ":last needs :index")
	}
	return nil
}

func (c *compiler) headerTest(n *node) (test, *Error) {
	defs := union(matchTags, indexTags)
	if n.name != "header" {
		defs = union(defs, addrTags)
	}
	if n.name == "envelope" {
		if err := c.need(n.line, "envelope", "envelope"); err != nil {
			return nil, err
		}
		delete(defs, "index")
		delete(defs, "last")
	}
	a, err := c.split(n, defs)
	if err == nil {
		err = a.positional(n.name, "ll")
	}
	if err != nil {
		return nil, err
	}
	t := testHeader{addr: n.name != "header", envelope: n.name == "envelope", part: "all"}
	for p := range addrTags {
		if a.has(p) {
			t.part = p
		}
	}
	if t.m, err = c.matcher(a, a.pos[1]); err != nil {
		return nil, err
	}
	if err := c.index(a, &t.index, &t.last); err != nil {
		return nil, err
	}
	if t.names, err = c.strs(a.pos[0]); err != nil {
		return nil, err
	}
	t.constNames = constants(t.names)
	for _, s := range a.pos[0].strs {
		if t.envelope {
			if p := strings.ToLower(s); p != "from" && p != "to" && p != "auth" && !strings.Contains(s, "${") {
				return nil, errorf(n.line, "envelope: unknown part %q (from, to, auth)", s)
			}
		} else if !strings.Contains(s, "${") && !validFieldName(s) {
			return nil, errorf(n.line, "%q is not a header field name", s)
		}
	}
	return t, nil
}

// validFieldName is RFC 5322's field-name: printable ASCII but ':'.
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 127 || s[i] == ':' {
			return false
		}
	}
	return true
}

func (c *compiler) bodyTest(n *node) (test, *Error) {
	if err := c.need(n.line, "body", "body"); err != nil {
		return nil, err
	}
	a, err := c.split(n, union(matchTags, map[string]tagDef{
		"raw": {group: "transform"}, "text": {group: "transform"},
		"content": {val: argStrings, group: "transform"},
	}))
	if err == nil {
		err = a.positional("body", "l")
	}
	if err != nil {
		return nil, err
	}
	t := testBody{transform: "text"}
	switch {
	case a.has("raw"):
		t.transform = "raw"
	case a.has("content"):
		t.transform = "content"
		if t.types, err = c.strs(a.tags["content"]); err != nil {
			return nil, err
		}
	}
	t.m, err = c.matcher(a, a.pos[0])
	return t, err
}

// dateParts are the date-part names of RFC 5260 4.
var dateParts = map[string]bool{
	"year": true, "month": true, "day": true, "date": true, "julian": true,
	"hour": true, "minute": true, "second": true, "time": true,
	"iso8601": true, "std11": true, "zone": true, "weekday": true,
}

func (c *compiler) dateTest(n *node) (test, *Error) {
	if err := c.need(n.line, "date", n.name); err != nil {
		return nil, err
	}
	defs := union(matchTags, map[string]tagDef{"zone": {val: argStrings, group: "zone"}})
	kinds := "sl"
	if n.name == "date" {
		defs = union(defs, indexTags, map[string]tagDef{"originalzone": {group: "zone"}})
		kinds = "ssl"
	}
	a, err := c.split(n, defs)
	if err == nil {
		err = a.positional(n.name, kinds)
	}
	if err != nil {
		return nil, err
	}
	t := testDate{current: n.name == "currentdate", original: a.has("originalzone")}
	if z, ok := a.tags["zone"]; ok {
		if len(z.strs) != 1 {
			return nil, errorf(z.line, ":zone takes one string")
		}
		zs, err := c.str(z.strs[0], z.line)
		if err != nil {
			return nil, err
		}
		if zs.parts == nil {
			if _, ok := parseZone(zs.lit); !ok {
				return nil, errorf(z.line, ":zone %q is not +hhmm or -hhmm", zs.lit)
			}
		}
		t.zone = &zs
	}
	pos := a.pos
	if !t.current {
		if t.header, err = c.str(pos[0].strs[0], pos[0].line); err != nil {
			return nil, err
		}
		if err := c.index(a, &t.index, &t.last); err != nil {
			return nil, err
		}
		pos = pos[1:]
	}
	if t.part, err = c.str(pos[0].strs[0], pos[0].line); err != nil {
		return nil, err
	}
	if t.part.parts == nil {
		t.part.lit = strings.ToLower(t.part.lit)
		if !dateParts[t.part.lit] {
			return nil, errorf(pos[0].line, "unknown date part %q", t.part.lit)
		}
	}
	t.m, err = c.matcher(a, pos[1])
	return t, err
}

func (c *compiler) stringTest(n *node) (test, *Error) {
	if err := c.need(n.line, "variables", "string"); err != nil {
		return nil, err
	}
	a, err := c.split(n, matchTags)
	if err == nil {
		err = a.positional("string", "ll")
	}
	if err != nil {
		return nil, err
	}
	t := testString{}
	if t.sources, err = c.strs(a.pos[0]); err != nil {
		return nil, err
	}
	t.m, err = c.matcher(a, a.pos[1])
	return t, err
}

func (c *compiler) hasflagTest(n *node) (test, *Error) {
	if err := c.need(n.line, "imap4flags", "hasflag"); err != nil {
		return nil, err
	}
	a, err := c.split(n, matchTags)
	if err != nil {
		return nil, err
	}
	t := testHasflag{}
	switch len(a.pos) {
	case 2:
		if err := c.need(n.line, "variables", "hasflag with variables"); err != nil {
			return nil, err
		}
		if err := a.positional("hasflag", "ll"); err != nil {
			return nil, err
		}
		for _, s := range a.pos[0].strs {
			t.vars = append(t.vars, sval{lit: strings.ToLower(s)})
		}
		a.pos = a.pos[1:]
	case 1:
	default:
		return nil, errorf(n.line, "hasflag takes [variables] flags")
	}
	if err := a.positional("hasflag", "l"); err != nil {
		return nil, err
	}
	t.m, err = c.matcher(a, a.pos[0])
	return t, err
}

func (c *compiler) spamTest(n *node) (test, *Error) {
	ext := n.name
	if n.name == "spamtest" && c.exts["spamtestplus"] {
		ext = "spamtestplus" // RFC 5235 3.2: spamtestplus implies spamtest
	}
	if err := c.need(n.line, ext, n.name); err != nil {
		return nil, err
	}
	defs := matchTags
	if n.name == "spamtest" {
		defs = union(matchTags, map[string]tagDef{"percent": {ext: "spamtestplus"}})
	}
	a, err := c.split(n, defs)
	if err == nil {
		err = a.positional(n.name, "s")
	}
	if err != nil {
		return nil, err
	}
	t := testSpam{virus: n.name == "virustest", percent: a.has("percent")}
	t.m, err = c.matcher(a, a.pos[0])
	return t, err
}
