package sieve

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// ActionKind names what a script asks the delivery to do.
type ActionKind int

// The actions of RFC 5228 and the extensions.
const (
	Keep     ActionKind = iota // file into INBOX
	FileInto                   // file into Mailbox
	Redirect                   // send to Address
	Discard                    // drop silently (only cancels the implicit keep)
	Reject                     // refuse with Reason (RFC 5429 reject: an MDN-style bounce)
	EReject                    // refuse with Reason at the SMTP level where possible
	Vacation                   // answer the sender (RFC 5230)
)

var actionNames = [...]string{"keep", "fileinto", "redirect", "discard", "reject", "ereject", "vacation"}

func (k ActionKind) String() string { return actionNames[k] }

// Action is one action of a run's result.
type Action struct {
	Kind     ActionKind
	Mailbox  string   // FileInto
	Create   bool     // FileInto :create (RFC 5490)
	Flags    []string // Keep, FileInto: the IMAP flags to set (RFC 5232)
	Address  string   // Redirect
	Copy     bool     // Redirect, FileInto :copy (RFC 3894)
	Reason   string   // Reject, EReject, Vacation
	Vacation *VacationReply
	Implicit bool // the implicit keep
}

// VacationReply holds the parameters of a vacation action (RFC 5230 4):
// the delivery decides whether to answer (RFC 3834 rules, the period per
// sender and Handle).
type VacationReply struct {
	Period    time.Duration
	Subject   string
	From      string
	Addresses []string
	MIME      bool
	Handle    string
}

// Result is what a run of scripts decided, in order of execution.
type Result struct {
	Actions []Action
}

// add appends an action, merging duplicates (RFC 5228 4.1, 4.2: filing
// twice into one mailbox or redirecting twice to one address is done once)
// and enforcing the limits and RFC 5429's incompatibilities.
func (r *run) add(a Action) error {
	for i, b := range r.res.Actions {
		if b.Kind != a.Kind {
			continue
		}
		switch a.Kind {
		case Keep, Discard:
			if a.Kind == Keep {
				r.res.Actions[i].Flags = mergeFlags(b.Flags, a.Flags)
				r.res.Actions[i].Implicit = b.Implicit && a.Implicit
			}
			return nil
		case FileInto:
			if strings.EqualFold(b.Mailbox, a.Mailbox) || isInbox(a.Mailbox) && isInbox(b.Mailbox) {
				r.res.Actions[i].Flags = mergeFlags(b.Flags, a.Flags)
				r.res.Actions[i].Create = b.Create || a.Create
				return nil
			}
		case Redirect:
			if strings.EqualFold(b.Address, a.Address) {
				return nil
			}
		case Vacation:
			return runtimeErr("vacation used twice")
		case Reject, EReject:
			return runtimeErr("reject used twice")
		}
	}
	if r.reject && (a.Kind == Keep && !a.Implicit || a.Kind == FileInto || a.Kind == Vacation) ||
		(a.Kind == Reject || a.Kind == EReject) && r.delivers() {
		// RFC 5429 2.1: reject cannot be combined with actions that deliver or answer.
		return runtimeErr("reject cannot be combined with keep, fileinto or vacation")
	}
	if len(r.res.Actions) >= r.lim.MaxActions {
		return runtimeErr("more than %d actions", r.lim.MaxActions)
	}
	if a.Kind == Redirect {
		if r.redirects >= r.lim.MaxRedirects {
			return runtimeErr("more than %d redirects", r.lim.MaxRedirects)
		}
		r.redirects++
	}
	if a.Kind == Reject || a.Kind == EReject {
		r.reject = true
	}
	r.res.Actions = append(r.res.Actions, a)
	return nil
}

func (r *run) delivers() bool {
	for _, b := range r.res.Actions {
		if b.Kind == Keep && !b.Implicit || b.Kind == FileInto || b.Kind == Vacation {
			return true
		}
	}
	return false
}

func isInbox(m string) bool { return strings.EqualFold(m, "INBOX") }

func (c cmdKeep) exec(r *run) error {
	r.cancelled = true
	return r.add(Action{Kind: Keep, Flags: r.actionFlags(c.flags)})
}

func (cmdDiscard) exec(r *run) error {
	r.cancelled = true
	return r.add(Action{Kind: Discard})
}

func (c cmdRedirect) exec(r *run) error {
	addr := r.expand(c.addr)
	if !plausibleAddress(addr) {
		return runtimeErr("redirect: %q is not an address", addr)
	}
	if !c.copy {
		r.cancelled = true
	}
	return r.add(Action{Kind: Redirect, Address: addr, Copy: c.copy})
}

func (c cmdFileinto) exec(r *run) error {
	mb := r.expand(c.mailbox)
	if mb == "" {
		return runtimeErr("fileinto: empty mailbox name")
	}
	if !c.copy {
		r.cancelled = true
	}
	if isInbox(mb) {
		mb = "INBOX"
	}
	return r.add(Action{Kind: FileInto, Mailbox: mb, Create: c.create, Copy: c.copy, Flags: r.actionFlags(c.flags)})
}

func (c cmdReject) exec(r *run) error {
	r.cancelled = true
	k := Reject
	if c.ereject {
		k = EReject
	}
	return r.add(Action{Kind: k, Reason: r.expand(c.reason)})
}

// actionFlags are the flags a keep or fileinto sets: its :flags, else the
// internal variable (RFC 5232 5).
func (r *run) actionFlags(fl *[]sval) []string {
	if fl != nil {
		return splitFlags(strings.Join(r.expandAll(*fl), " "))
	}
	return splitFlags(r.flags)
}

// splitFlags splits a flag list on spaces, drops duplicates (compared
// without case) and writes the system flags in their usual case.
func splitFlags(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		if strings.HasPrefix(f, `\`) {
			for _, sys := range []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`} {
				if strings.EqualFold(f, sys) {
					f = sys
				}
			}
		}
		if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, f) }) {
			out = append(out, f)
		}
	}
	return out
}

func mergeFlags(a, b []string) []string {
	return splitFlags(strings.Join(append(slices.Clone(a), b...), " "))
}

func (c cmdFlag) exec(r *run) error {
	cur := r.flags
	if c.varName != nil {
		cur, _ = r.getVar(c.varName.lit)
	}
	arg := splitFlags(strings.Join(r.expandAll(c.flags), " "))
	var next []string
	switch c.op {
	case "setflag":
		next = arg
	case "addflag":
		next = mergeFlags(splitFlags(cur), arg)
	default:
		for _, f := range splitFlags(cur) {
			if !slices.ContainsFunc(arg, func(o string) bool { return strings.EqualFold(o, f) }) {
				next = append(next, f)
			}
		}
	}
	v := strings.Join(next, " ")
	if c.varName != nil {
		r.setVar(c.varName.lit, v)
	} else {
		r.flags = v
	}
	return nil
}

// cmdVacation is RFC 5230's vacation with RFC 6131's :seconds.
type cmdVacation struct {
	period    int64 // seconds, or days when !seconds
	seconds   bool
	subject   *sval
	from      *sval
	addresses []sval
	mime      bool
	handle    *sval
	reason    sval
}

func (c *compiler) vacation(n *node) (cmd, *Error) {
	if err := c.need(n.line, "vacation", "vacation"); err != nil {
		return nil, err
	}
	a, err := c.split(n, map[string]tagDef{
		"days":      {val: argNumber, group: "period"},
		"seconds":   {val: argNumber, group: "period", ext: "vacation-seconds"},
		"subject":   {val: argStrings},
		"from":      {val: argStrings},
		"addresses": {val: argStrings},
		"mime":      {},
		"handle":    {val: argStrings},
	})
	if err == nil {
		err = a.positional("vacation", "s")
	}
	if err != nil {
		return nil, err
	}
	v := cmdVacation{period: 7, mime: a.has("mime")} // RFC 5230 4.1: 7 days by default
	if d, ok := a.tags["days"]; ok {
		v.period = max(d.num, 1) // at least a day (RFC 5230 4.1)
	}
	if s, ok := a.tags["seconds"]; ok {
		v.period, v.seconds = s.num, true
	}
	one := func(tag string) (*sval, *Error) {
		t, ok := a.tags[tag]
		if !ok {
			return nil, nil
		}
		if len(t.strs) != 1 {
			return nil, errorf(t.line, ":%s takes one string", tag)
		}
		s, err := c.str(t.strs[0], t.line)
		return &s, err
	}
	if v.subject, err = one("subject"); err != nil {
		return nil, err
	}
	if v.from, err = one("from"); err != nil {
		return nil, err
	}
	if v.handle, err = one("handle"); err != nil {
		return nil, err
	}
	if t, ok := a.tags["addresses"]; ok {
		if v.addresses, err = c.strs(t); err != nil {
			return nil, err
		}
	}
	v.reason, err = c.str(a.pos[0].strs[0], n.line)
	return v, err
}

func (c cmdVacation) exec(r *run) error {
	reply := &VacationReply{MIME: c.mime, Addresses: r.expandAll(c.addresses)}
	if c.seconds {
		reply.Period = time.Duration(c.period) * time.Second
	} else {
		reply.Period = time.Duration(c.period) * 24 * time.Hour
	}
	if c.subject != nil {
		reply.Subject = r.expand(*c.subject)
	}
	if c.from != nil {
		reply.From = r.expand(*c.from)
	}
	reason := r.expand(c.reason)
	if c.handle != nil {
		reply.Handle = r.expand(*c.handle)
	} else {
		// RFC 5230 4.2: without :handle, the reply's parameters name it.
		h := sha256.Sum256([]byte(reply.Subject + "\x00" + reply.From + "\x00" + reason + "\x00" + boolStr(c.mime)))
		reply.Handle = hex.EncodeToString(h[:8])
	}
	return r.add(Action{Kind: Vacation, Reason: reason, Vacation: reply})
}

func boolStr(b bool) string {
	if b {
		return "mime"
	}
	return ""
}
