package sieve

import "strings"

// cmd is a compiled command.
type cmd interface {
	exec(r *run) error
}

type ifBranch struct {
	test  test
	block []cmd
}

type cmdIf struct {
	branches []ifBranch
	els      []cmd
}

type (
	cmdStop    struct{}
	cmdReturn  struct{}
	cmdDiscard struct{}
	cmdKeep    struct{ flags *[]sval }
	cmdGlobal  struct{ names []string }
)

type cmdRedirect struct {
	addr sval
	copy bool
}

type cmdFileinto struct {
	mailbox      sval
	copy, create bool
	flags        *[]sval
}

type cmdReject struct {
	reason  sval
	ereject bool
}

type cmdFlag struct {
	op      string // setflag, addflag, removeflag
	varName *sval
	flags   []sval
}

type cmdSet struct {
	name  string
	value sval
	mods  []string // applied in this order (RFC 5229 4.1 precedence)
}

type cmdInclude struct {
	global, once, optional bool
	name                   sval
}

var flagsTag = map[string]tagDef{"flags": {val: argStrings, ext: "imap4flags"}}

// command compiles one command other than require and if.
func (c *compiler) command(n *node) (cmd, *Error) {
	if err := noTestsNoBlock(n); err != nil {
		return nil, err
	}
	switch n.name {
	case "stop", "discard", "return":
		if len(n.args) > 0 {
			return nil, errorf(n.line, "%s takes no arguments", n.name)
		}
		switch n.name {
		case "stop":
			return cmdStop{}, nil
		case "return":
			return cmdReturn{}, c.need(n.line, "include", "return")
		}
		return cmdDiscard{}, nil
	case "keep":
		a, err := c.split(n, flagsTag)
		if err == nil {
			err = a.positional("keep", "")
		}
		if err != nil {
			return nil, err
		}
		fl, err := c.flagsArg(a)
		return cmdKeep{flags: fl}, err
	case "redirect":
		return c.redirect(n)
	case "fileinto":
		return c.fileinto(n)
	case "reject", "ereject":
		if err := c.need(n.line, n.name, n.name); err != nil {
			return nil, err
		}
		a, err := c.split(n, nil)
		if err == nil {
			err = a.positional(n.name, "s")
		}
		if err != nil {
			return nil, err
		}
		s, err := c.str(a.pos[0].strs[0], n.line)
		return cmdReject{reason: s, ereject: n.name == "ereject"}, err
	case "setflag", "addflag", "removeflag":
		return c.flagCmd(n)
	case "set":
		return c.set(n)
	case "vacation":
		return c.vacation(n)
	case "include":
		return c.include(n)
	case "global":
		return c.global(n)
	}
	return nil, errorf(n.line, "unknown command %q", n.name)
}

func (c *compiler) flagsArg(a args) (*[]sval, *Error) {
	v, ok := a.tags["flags"]
	if !ok {
		return nil, nil
	}
	l, err := c.strs(v)
	return &l, err
}

func (c *compiler) redirect(n *node) (cmd, *Error) {
	a, err := c.split(n, map[string]tagDef{"copy": {ext: "copy"}})
	if err == nil {
		err = a.positional("redirect", "s")
	}
	if err != nil {
		return nil, err
	}
	s, err := c.str(a.pos[0].strs[0], n.line)
	if err != nil {
		return nil, err
	}
	if s.parts == nil && !plausibleAddress(s.lit) {
		return nil, errorf(n.line, "redirect: %q is not an address", s.lit)
	}
	return cmdRedirect{addr: s, copy: a.has("copy")}, nil
}

// plausibleAddress is the check RFC 5228 4.2 asks of a redirect target:
// one addr-spec with a local part and a domain.
func plausibleAddress(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \t\r\n<>,")
}

func (c *compiler) fileinto(n *node) (cmd, *Error) {
	if err := c.need(n.line, "fileinto", "fileinto"); err != nil {
		return nil, err
	}
	a, err := c.split(n, map[string]tagDef{
		"copy":   {ext: "copy"},
		"create": {ext: "mailbox"},
		"flags":  flagsTag["flags"],
	})
	if err == nil {
		err = a.positional("fileinto", "s")
	}
	if err != nil {
		return nil, err
	}
	mb, err := c.str(a.pos[0].strs[0], n.line)
	if err != nil {
		return nil, err
	}
	fl, err := c.flagsArg(a)
	return cmdFileinto{mailbox: mb, copy: a.has("copy"), create: a.has("create"), flags: fl}, err
}

func (c *compiler) flagCmd(n *node) (cmd, *Error) {
	if err := c.need(n.line, "imap4flags", n.name); err != nil {
		return nil, err
	}
	a, err := c.split(n, nil)
	if err != nil {
		return nil, err
	}
	out := cmdFlag{op: n.name}
	switch len(a.pos) {
	case 2:
		if err := a.positional(n.name, "sl"); err != nil {
			return nil, err
		}
		if err := c.need(n.line, "variables", n.name+" with a variable name"); err != nil {
			return nil, err
		}
		name := strings.ToLower(a.pos[0].strs[0])
		if !validVarName(name) {
			return nil, errorf(n.line, "%q is not a variable name", name)
		}
		out.varName = &sval{lit: name}
		a.pos = a.pos[1:]
	case 1:
	default:
		return nil, errorf(n.line, "%s takes [variable] flag-list", n.name)
	}
	if err := a.positional(n.name, "l"); err != nil {
		return nil, err
	}
	out.flags, err = c.strs(a.pos[0])
	return out, err
}

// validVarName accepts a settable name: identifiers, "global." allowed.
func validVarName(name string) bool {
	name = strings.TrimPrefix(name, "global.")
	return validIdent(name)
}

// set modifiers and their precedence (RFC 5229 4.1), highest first.
var setMods = map[string]int{
	"lower": 40, "upper": 40, "lowerfirst": 30, "upperfirst": 30,
	"quotewildcard": 20, "length": 10,
}

func (c *compiler) set(n *node) (cmd, *Error) {
	if err := c.need(n.line, "variables", "set"); err != nil {
		return nil, err
	}
	defs := map[string]tagDef{}
	for m, p := range setMods {
		defs[m] = tagDef{group: string(rune('0' + p/10))}
	}
	a, err := c.split(n, defs)
	if err == nil {
		err = a.positional("set", "ss")
	}
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(a.pos[0].strs[0])
	if !validVarName(name) {
		return nil, errorf(n.line, "set: %q is not a variable name", name)
	}
	val, err := c.str(a.pos[1].strs[0], n.line)
	if err != nil {
		return nil, err
	}
	s := cmdSet{name: name, value: val}
	for m := range a.tags {
		s.mods = append(s.mods, m)
	}
	sortByPrecedence(s.mods)
	return s, nil
}

func sortByPrecedence(mods []string) {
	for i := 1; i < len(mods); i++ {
		for j := i; j > 0 && setMods[mods[j]] > setMods[mods[j-1]]; j-- {
			mods[j], mods[j-1] = mods[j-1], mods[j]
		}
	}
}

func (c *compiler) include(n *node) (cmd, *Error) {
	if err := c.need(n.line, "include", "include"); err != nil {
		return nil, err
	}
	a, err := c.split(n, map[string]tagDef{
		"personal": {group: "loc"}, "global": {group: "loc"},
		"once": {}, "optional": {},
	})
	if err == nil {
		err = a.positional("include", "s")
	}
	if err != nil {
		return nil, err
	}
	name := a.pos[0].strs[0]
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return nil, errorf(n.line, "include: %q is not a script name", name)
	}
	// RFC 6609 3.2: the name is a constant, never expanded.
	return cmdInclude{global: a.has("global"), once: a.has("once"), optional: a.has("optional"), name: sval{lit: name}}, nil
}

func (c *compiler) global(n *node) (cmd, *Error) {
	if err := c.need(n.line, "include", "global"); err != nil {
		return nil, err
	}
	if err := c.need(n.line, "variables", "global"); err != nil {
		return nil, err
	}
	a, err := c.split(n, nil)
	if err == nil {
		err = a.positional("global", "l")
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range a.pos[0].strs {
		s = strings.ToLower(s)
		if !validIdent(s) {
			return nil, errorf(n.line, "global: %q is not a variable name", s)
		}
		names = append(names, s)
	}
	return cmdGlobal{names: names}, nil
}
