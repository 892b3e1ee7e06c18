package sieve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Message is what a script may read of the message being delivered.
type Message interface {
	// Header returns the values of the fields named name (matched without
	// regard to case), in order, unfolded, without decoding.
	Header(name string) []string
	// Size is the message's size in octets (RFC 5228 5.9).
	Size() int64
	// Raw returns the whole message; only the body test asks for it.
	Raw() ([]byte, error)
}

// Envelope is the SMTP envelope of the delivery (RFC 5228 5.4): From is
// MAIL FROM ("" for the null sender), To the RCPT TO of this mailbox, Auth
// the authenticated user, if any.
type Envelope struct {
	From, To, Auth string
}

// Scores gives the spamtest and virustest results (RFC 5235) of a content
// filter. HeaderScores reads them from the filter's header fields.
type Scores interface {
	// Spam returns the spam probability in [0, 1] and whether the message was tested.
	Spam() (float64, bool)
	// Virus returns 1 (clean) to 5 (infected) and whether the message was tested.
	Virus() (int, bool)
}

// Mailboxes answers mailboxexists (RFC 5490) for the mailbox owner.
type Mailboxes interface {
	MailboxExists(name string) bool
}

// ErrNoScript is what an Includer returns for a script that does not exist.
var ErrNoScript = errors.New("sieve: no such script")

// Includer finds the scripts an include names (RFC 6609): the owner's
// (personal) or the domain's (global).
type Includer interface {
	Include(ctx context.Context, global bool, name string) (*Script, error)
}

// Limits bound one run of a script chain.
type Limits struct {
	MaxActions      int           // actions performed, keep included; default 32
	MaxRedirects    int           // default 4
	MaxIncludeDepth int           // default 5
	MaxRunTime      time.Duration // default 1s
	MaxVariableSize int           // bytes of one variable's value; default 4096
}

func (l Limits) withDefaults() Limits {
	if l.MaxActions <= 0 {
		l.MaxActions = 32
	}
	if l.MaxRedirects <= 0 {
		l.MaxRedirects = 4
	}
	if l.MaxIncludeDepth <= 0 {
		l.MaxIncludeDepth = 5
	}
	if l.MaxRunTime <= 0 {
		l.MaxRunTime = time.Second
	}
	if l.MaxVariableSize <= 0 {
		l.MaxVariableSize = 4096
	}
	return l
}

// Input is everything a run reads. Message is required; the rest may be zero.
type Input struct {
	Message   Message
	Envelope  Envelope
	Now       time.Time      // currentdate; zero means time.Now()
	Location  *time.Location // the zone of date tests without :zone; nil means UTC
	Scores    Scores
	Mailboxes Mailboxes
	Includer  Includer
	Limits    Limits
}

// RuntimeError is a failure while running a script: a limit passed, an
// include that is missing, a reject next to a keep. The delivery files
// the message into INBOX and tells the owner.
type RuntimeError struct{ Msg string }

func (e *RuntimeError) Error() string { return "sieve: " + e.Msg }

func runtimeErr(format string, a ...any) error {
	return &RuntimeError{Msg: fmt.Sprintf(format, a...)}
}

// control flow, never returned to callers.
var (
	errStop   = errors.New("stop")
	errReturn = errors.New("return")
)

// run is the state of one run over a chain of scripts.
type run struct {
	ctx      context.Context
	in       *Input
	lim      Limits
	deadline time.Time
	steps    int
	body     *bodyCache
	fields   fieldCache

	vars        map[string]string // the running script's own variables
	globalNames map[string]bool   // names it declared global
	globals     map[string]string
	match       []string
	flags       string // the internal variable of imap4flags

	res       Result
	cancelled bool // implicit keep cancelled
	redirects int
	reject    bool
	includes  []string
	once      map[string]bool
}

// Run runs scripts one after the other, as one execution (domain's before
// scripts, the owner's, the domain's after scripts): their actions add up,
// stop ends the whole chain, and the implicit keep comes at the end unless
// an action of any of them cancelled it. A runtime error is a *RuntimeError
// and no action may be taken then.
func Run(ctx context.Context, in Input, scripts ...*Script) (*Result, error) {
	lim := in.Limits.withDefaults()
	r := &run{ctx: ctx, in: &in, lim: lim, deadline: time.Now().Add(lim.MaxRunTime),
		globals: map[string]string{}, once: map[string]bool{}}
	for _, s := range scripts {
		if s == nil {
			continue
		}
		err := r.script(s)
		if errors.Is(err, errStop) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if !r.cancelled {
		if err := r.add(Action{Kind: Keep, Flags: splitFlags(r.flags), Implicit: true}); err != nil {
			return nil, err
		}
	}
	return &r.res, nil
}

// script runs one script with its own variables; the internal flags
// variable and the match variables carry across.
func (r *run) script(s *Script) error {
	saveVars, saveGlobals := r.vars, r.globalNames
	r.vars, r.globalNames = map[string]string{}, map[string]bool{}
	defer func() { r.vars, r.globalNames = saveVars, saveGlobals }()
	err := r.block(s.cmds)
	if errors.Is(err, errReturn) {
		return nil
	}
	return err
}

func (r *run) block(cmds []cmd) error {
	for _, c := range cmds {
		if err := r.tick(); err != nil {
			return err
		}
		if err := c.exec(r); err != nil {
			return err
		}
	}
	return nil
}

// tick checks the run time limit and the context now and then.
func (r *run) tick() error {
	r.steps++
	if r.steps%64 != 0 {
		return nil
	}
	if err := r.ctx.Err(); err != nil {
		return fmt.Errorf("sieve: run: %w", err)
	}
	if time.Now().After(r.deadline) {
		return runtimeErr("script ran longer than %v", r.lim.MaxRunTime)
	}
	return nil
}

// expand gives a string's value, variables substituted (RFC 5229 3).
func (r *run) expand(s sval) string {
	if s.parts == nil {
		return s.lit
	}
	var b strings.Builder
	for _, p := range s.parts {
		switch {
		case !p.ref:
			b.WriteString(p.lit)
		case p.num >= 0:
			if p.num < len(r.match) {
				b.WriteString(r.match[p.num])
			}
		default:
			v, _ := r.getVar(p.name)
			b.WriteString(v)
		}
	}
	return b.String()
}

// constants returns the values of l when none holds a variable, else nil.
func constants(l []sval) []string {
	out := make([]string, len(l))
	for i, s := range l {
		if s.parts != nil {
			return nil
		}
		out[i] = s.lit
	}
	return out
}

func (r *run) expandAll(l []sval) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = r.expand(s)
	}
	return out
}

// getVar reads a variable: "global.x" and names declared global from the
// shared set (RFC 6609 3.3), the others from the script's own.
func (r *run) getVar(name string) (string, bool) {
	if g, ok := strings.CutPrefix(name, "global."); ok {
		v, ok := r.globals[g]
		return v, ok
	}
	if strings.Contains(name, ".") {
		return "", false // an unknown namespace expands to nothing
	}
	if r.globalNames[name] {
		v, ok := r.globals[name]
		return v, ok
	}
	v, ok := r.vars[name]
	return v, ok
}

func (r *run) setVar(name, v string) {
	if len(v) > r.lim.MaxVariableSize {
		v = truncateUTF8(v, r.lim.MaxVariableSize)
	}
	if g, ok := strings.CutPrefix(name, "global."); ok {
		r.globals[g] = v
		return
	}
	if r.globalNames[name] {
		r.globals[name] = v
		return
	}
	r.vars[name] = v
}

func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func (c cmdIf) exec(r *run) error {
	for _, b := range c.branches {
		ok, err := b.test.eval(r)
		if err != nil {
			return err
		}
		if ok {
			return r.block(b.block)
		}
	}
	return r.block(c.els)
}

func (cmdStop) exec(*run) error   { return errStop }
func (cmdReturn) exec(*run) error { return errReturn }

func (c cmdGlobal) exec(r *run) error {
	for _, n := range c.names {
		r.globalNames[n] = true
	}
	return nil
}

func (c cmdSet) exec(r *run) error {
	v := r.expand(c.value)
	for _, m := range c.mods {
		switch m {
		case "lower":
			v = strings.ToLower(v)
		case "upper":
			v = strings.ToUpper(v)
		case "lowerfirst", "upperfirst":
			if v != "" {
				f := []rune(v)
				if m == "lowerfirst" {
					v = strings.ToLower(string(f[0])) + string(f[1:])
				} else {
					v = strings.ToUpper(string(f[0])) + string(f[1:])
				}
			}
		case "quotewildcard":
			v = quoteWildcard(v)
		case "length":
			v = fmt.Sprint(len([]rune(v)))
		}
	}
	r.setVar(c.name, v)
	return nil
}

func (c cmdInclude) exec(r *run) error {
	key := fmt.Sprintf("%t/%s", c.global, c.name.lit)
	if c.once && r.once[key] {
		return nil
	}
	for _, k := range r.includes {
		if k == key {
			return runtimeErr("include loop: %q includes itself", c.name.lit)
		}
	}
	if len(r.includes) >= r.lim.MaxIncludeDepth {
		return runtimeErr("includes nested deeper than %d", r.lim.MaxIncludeDepth)
	}
	if r.in.Includer == nil {
		return runtimeErr("include %q: no scripts to include from", c.name.lit)
	}
	s, err := r.in.Includer.Include(r.ctx, c.global, c.name.lit)
	if errors.Is(err, ErrNoScript) && c.optional {
		return nil
	}
	if errors.Is(err, ErrNoScript) {
		return runtimeErr("include: no script %q", c.name.lit)
	}
	if err != nil {
		return fmt.Errorf("sieve: include %q: %w", c.name.lit, err)
	}
	if c.once {
		r.once[key] = true
	}
	r.includes = append(r.includes, key)
	defer func() { r.includes = r.includes[:len(r.includes)-1] }()
	return r.script(s)
}
