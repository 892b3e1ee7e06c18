package sieve

import (
	"sort"
	"strings"
)

// Extensions lists the capabilities this interpreter implements, in the
// order ManageSieve's SIEVE capability announces them.
var extensions = []string{
	"fileinto", "reject", "ereject", "envelope", "encoded-character",
	"imap4flags", "vacation", "vacation-seconds", "copy", "body", "variables",
	"relational", "comparator-i;ascii-numeric", "comparator-i;octet",
	"comparator-i;ascii-casemap", "subaddress", "date", "index", "mailbox",
	"spamtest", "spamtestplus", "virustest", "regex", "include",
}

// Extensions returns the names of the extensions a script may require.
func Extensions() []string { return append([]string(nil), extensions...) }

func knownExtension(name string) bool {
	for _, e := range extensions {
		if e == name {
			return true
		}
	}
	return false
}

// Options bound what a compiled script may be.
type Options struct {
	MaxScriptSize int // bytes; 0 means DefaultMaxScriptSize
	MaxNesting    int // blocks and tests inside each other; 0 means DefaultMaxNesting
}

// Defaults of Options.
const (
	DefaultMaxScriptSize = 64 << 10
	DefaultMaxNesting    = 15
)

// Script is a compiled script, ready to run any number of times and safe
// for concurrent use.
type Script struct {
	cmds     []cmd
	requires []string
}

// Requires lists the extensions the script requires, sorted.
func (s *Script) Requires() []string { return s.requires }

type compiler struct {
	exts map[string]bool
}

// Compile checks a script and compiles it. A script error is an *Error
// with its line.
func Compile(src string, opts Options) (*Script, error) {
	if opts.MaxScriptSize <= 0 {
		opts.MaxScriptSize = DefaultMaxScriptSize
	}
	if opts.MaxNesting <= 0 {
		opts.MaxNesting = DefaultMaxNesting
	}
	if len(src) > opts.MaxScriptSize {
		return nil, errorf(1, "script of %d bytes is over the limit of %d", len(src), opts.MaxScriptSize)
	}
	nodes, perr := parse(src, opts.MaxNesting)
	if perr != nil {
		return nil, perr
	}
	c := &compiler{exts: map[string]bool{}}
	cmds, err := c.block(nodes, true)
	if err != nil {
		return nil, err
	}
	s := &Script{cmds: cmds}
	for e := range c.exts {
		s.requires = append(s.requires, e)
	}
	sort.Strings(s.requires)
	return s, nil
}

// block compiles a list of commands; require is allowed only at the start
// of the script (RFC 5228 3.2).
func (c *compiler) block(nodes []*node, top bool) ([]cmd, *Error) {
	var out []cmd
	requireOK := top
	for i := 0; i < len(nodes); i++ {
		n := nodes[i]
		if n.name == "require" {
			if !requireOK {
				return nil, errorf(n.line, "require must come before any other command")
			}
			if err := c.require(n); err != nil {
				return nil, err
			}
			continue
		}
		requireOK = false
		if n.name == "elsif" || n.name == "else" {
			return nil, errorf(n.line, "%s without a preceding if", n.name)
		}
		if n.name == "if" {
			cm, used, err := c.ifChain(nodes[i:])
			if err != nil {
				return nil, err
			}
			out = append(out, cm)
			i += used - 1
			continue
		}
		cm, err := c.command(n)
		if err != nil {
			return nil, err
		}
		out = append(out, cm)
	}
	return out, nil
}

func (c *compiler) require(n *node) *Error {
	if len(n.args) != 1 || n.args[0].kind != argStrings || len(n.tests) > 0 || n.hasBlock {
		return errorf(n.line, "require takes one string list")
	}
	for _, e := range n.args[0].strs {
		e = strings.ToLower(e)
		if !knownExtension(e) {
			return errorf(n.line, "unsupported extension %q", e)
		}
		c.exts[e] = true
	}
	return nil
}

func (c *compiler) ifChain(nodes []*node) (cmd, int, *Error) {
	var ci cmdIf
	used := 0
	for used < len(nodes) {
		n := nodes[used]
		if used > 0 && n.name != "elsif" && n.name != "else" {
			break
		}
		if !n.hasBlock {
			return nil, 0, errorf(n.line, "%s needs a block", n.name)
		}
		if len(n.args) > 0 {
			return nil, 0, errorf(n.line, "%s takes no arguments", n.name)
		}
		block, err := c.block(n.block, false)
		if err != nil {
			return nil, 0, err
		}
		used++
		if n.name == "else" {
			if len(n.tests) > 0 {
				return nil, 0, errorf(n.line, "else takes no test")
			}
			ci.els = block
			break
		}
		if len(n.tests) != 1 {
			return nil, 0, errorf(n.line, "%s needs exactly one test", n.name)
		}
		t, err := c.test(n.tests[0])
		if err != nil {
			return nil, 0, err
		}
		ci.branches = append(ci.branches, ifBranch{t, block})
	}
	return &ci, used, nil
}

// need fails unless ext was required.
func (c *compiler) need(line int, ext, what string) *Error {
	if !c.exts[ext] {
		return errorf(line, "%s needs require %q", what, ext)
	}
	return nil
}

// str compiles one string: encoded characters first (a parse-time step of
// RFC 5228 2.4.2.4), then variable references.
func (c *compiler) str(s string, line int) (sval, *Error) {
	if c.exts["encoded-character"] {
		var err *Error
		if s, err = decodeEncoded(s, line); err != nil {
			return sval{}, err
		}
	}
	if c.exts["variables"] {
		return parseVars(s), nil
	}
	return sval{lit: s}, nil
}

func (c *compiler) strs(a arg) ([]sval, *Error) {
	out := make([]sval, len(a.strs))
	for i, s := range a.strs {
		v, err := c.str(s, a.line)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// tagDef says what a tagged argument takes and what it needs.
type tagDef struct {
	val   argKind // argTag: no value
	group string  // tags of one group exclude each other
	ext   string  // extension the tag needs
}

// args holds a command's tagged and positional arguments.
type args struct {
	tags map[string]arg // the tag itself, or its value
	pos  []arg
	line int
}

func (a args) has(tag string) bool { _, ok := a.tags[tag]; return ok }

// split separates tagged from positional arguments and checks the tags.
// Positional arguments follow the tags (RFC 5228 2.6.2 lets them come in any
// order; every command of ours puts them last, as the RFCs write them).
func (c *compiler) split(n *node, defs map[string]tagDef) (args, *Error) {
	a := args{tags: map[string]arg{}, line: n.line}
	groups := map[string]string{}
	for i := 0; i < len(n.args); i++ {
		x := n.args[i]
		if x.kind != argTag {
			a.pos = append(a.pos, x)
			continue
		}
		if len(a.pos) > 0 {
			return a, errorf(x.line, "tag :%s after a positional argument of %s", x.tag, n.name)
		}
		d, ok := defs[x.tag]
		if !ok {
			return a, errorf(x.line, "%s has no tag :%s", n.name, x.tag)
		}
		if d.ext != "" {
			if err := c.need(x.line, d.ext, ":"+x.tag); err != nil {
				return a, err
			}
		}
		if _, dup := a.tags[x.tag]; dup {
			return a, errorf(x.line, "tag :%s given twice", x.tag)
		}
		if d.group != "" {
			if other, dup := groups[d.group]; dup {
				return a, errorf(x.line, "tags :%s and :%s exclude each other", other, x.tag)
			}
			groups[d.group] = x.tag
		}
		if d.val == argTag {
			a.tags[x.tag] = x
			continue
		}
		if i+1 >= len(n.args) || n.args[i+1].kind != d.val {
			return a, errorf(x.line, "tag :%s needs a %s after it", x.tag, kindName(d.val))
		}
		i++
		a.tags[x.tag] = n.args[i]
	}
	return a, nil
}

func kindName(k argKind) string {
	switch k {
	case argNumber:
		return "number"
	case argStrings:
		return "string"
	}
	return "tag"
}

// positional checks the kinds of the positional arguments: 's' a single
// string, 'l' a string list, 'n' a number.
func (a args) positional(name string, kinds string) *Error {
	if len(a.pos) != len(kinds) {
		return errorf(a.line, "%s takes %d positional argument(s), found %d", name, len(kinds), len(a.pos))
	}
	for i, k := range kinds {
		p := a.pos[i]
		switch {
		case k == 'n' && p.kind != argNumber:
			return errorf(p.line, "%s: argument %d must be a number", name, i+1)
		case k == 's' && (p.kind != argStrings || p.list && len(p.strs) != 1):
			return errorf(p.line, "%s: argument %d must be a single string", name, i+1)
		case k == 'l' && p.kind != argStrings:
			return errorf(p.line, "%s: argument %d must be a string list", name, i+1)
		}
	}
	return nil
}

func noTestsNoBlock(n *node) *Error {
	if len(n.tests) > 0 {
		return errorf(n.line, "%s takes no test", n.name)
	}
	if n.hasBlock {
		return errorf(n.line, "%s takes no block", n.name)
	}
	return nil
}
