package sieve

// The syntax tree of RFC 5228 section 8.2, before the commands are checked
// against the extensions and compiled.

type argKind int

const (
	argTag argKind = iota
	argNumber
	argStrings
)

// arg is one positional or tagged argument.
type arg struct {
	kind argKind
	tag  string   // argTag: the name without ':'
	num  int64    // argNumber
	strs []string // argStrings
	list bool     // argStrings written as a bracketed list
	line int
}

// node is a command or a test: a name, its arguments, its tests (a test of
// an if or not, the test list of anyof/allof) and, for commands, a block.
type node struct {
	name     string
	args     []arg
	tests    []*node
	block    []*node
	hasBlock bool
	line     int
}

type parser struct {
	lx       lexer
	tok      token
	maxDepth int
}

// parse reads a whole script into its commands. maxDepth bounds the nesting
// of blocks and tests.
func parse(src string, maxDepth int) ([]*node, *Error) {
	p := &parser{lx: lexer{src: src, line: 1}, maxDepth: maxDepth}
	if err := p.advance(); err != nil {
		return nil, err
	}
	cmds, err := p.commands(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, errorf(p.tok.line, "unexpected %s", p.tok)
	}
	return cmds, nil
}

func (p *parser) advance() *Error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) isPunct(c string) bool { return p.tok.kind == tPunct && p.tok.text == c }

func (p *parser) expect(c string) *Error {
	if !p.isPunct(c) {
		return errorf(p.tok.line, "expected %q, found %s", c, p.tok)
	}
	return p.advance()
}

func (p *parser) commands(depth int) ([]*node, *Error) {
	var cmds []*node
	for p.tok.kind == tIdent {
		c, err := p.command(depth)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, c)
	}
	return cmds, nil
}

func (p *parser) command(depth int) (*node, *Error) {
	if depth > p.maxDepth {
		return nil, errorf(p.tok.line, "blocks nested deeper than %d", p.maxDepth)
	}
	c := &node{name: p.tok.text, line: p.tok.line}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.arguments(c, depth); err != nil {
		return nil, err
	}
	switch {
	case p.isPunct(";"):
		return c, p.advance()
	case p.isPunct("{"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		block, err := p.commands(depth + 1)
		if err != nil {
			return nil, err
		}
		c.block, c.hasBlock = block, true
		return c, p.expect("}")
	}
	return nil, errorf(p.tok.line, "expected ';' or '{' after command %q, found %s", c.name, p.tok)
}

// arguments reads *argument [test / test-list] into n.
func (p *parser) arguments(n *node, depth int) *Error {
	for {
		switch {
		case p.tok.kind == tTag:
			n.args = append(n.args, arg{kind: argTag, tag: p.tok.text, line: p.tok.line})
		case p.tok.kind == tNumber:
			n.args = append(n.args, arg{kind: argNumber, num: p.tok.num, line: p.tok.line})
		case p.tok.kind == tString:
			n.args = append(n.args, arg{kind: argStrings, strs: []string{p.tok.text}, line: p.tok.line})
		case p.isPunct("["):
			a, err := p.stringList()
			if err != nil {
				return err
			}
			n.args = append(n.args, a)
			continue
		case p.tok.kind == tIdent:
			t, err := p.test(depth + 1)
			if err != nil {
				return err
			}
			n.tests = []*node{t}
			return nil
		case p.isPunct("("):
			ts, err := p.testList(depth + 1)
			if err != nil {
				return err
			}
			n.tests = ts
			return nil
		default:
			return nil
		}
		if err := p.advance(); err != nil {
			return err
		}
	}
}

func (p *parser) stringList() (arg, *Error) {
	a := arg{kind: argStrings, list: true, line: p.tok.line}
	if err := p.advance(); err != nil {
		return a, err
	}
	for {
		if p.tok.kind != tString {
			return a, errorf(p.tok.line, "expected a string in the list, found %s", p.tok)
		}
		a.strs = append(a.strs, p.tok.text)
		if err := p.advance(); err != nil {
			return a, err
		}
		if p.isPunct("]") {
			return a, p.advance()
		}
		if err := p.expect(","); err != nil {
			return a, err
		}
	}
}

func (p *parser) test(depth int) (*node, *Error) {
	if depth > p.maxDepth {
		return nil, errorf(p.tok.line, "tests nested deeper than %d", p.maxDepth)
	}
	if p.tok.kind != tIdent {
		return nil, errorf(p.tok.line, "expected a test, found %s", p.tok)
	}
	t := &node{name: p.tok.text, line: p.tok.line}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return t, p.arguments(t, depth)
}

func (p *parser) testList(depth int) ([]*node, *Error) {
	if err := p.advance(); err != nil { // "("
		return nil, err
	}
	var ts []*node
	for {
		t, err := p.test(depth)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
		if p.isPunct(")") {
			return ts, p.advance()
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
	}
}
