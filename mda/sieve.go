package mda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailhost/maildir"
	"mailhost/mailheader"
	"mailhost/sieve"
	"mailhost/store"
)

// SieveStore is what the Sieve stage needs from the database; *store.Store
// satisfies it.
type SieveStore interface {
	SieveChain(ctx context.Context, mailboxID int64) ([]store.SieveRef, error)
	SieveInclude(ctx context.Context, mailboxID int64, global bool, name string) (store.SieveRef, error)
	SieveContent(ctx context.Context, ref store.SieveRef) (string, error)
	SieveVacationReply(ctx context.Context, mailboxID int64, handle, sender string, period time.Duration, reply store.QueuedMessage) (bool, error)
	SieveRedirectAllowance(ctx context.Context, mailboxID int64, n, limit int) (int, error)
	RecordSieveError(ctx context.Context, mailboxID int64, msg string) error
	ActiveVacation(ctx context.Context, mailboxID int64) (store.Vacation, error)
}

var _ SieveStore = (*store.Store)(nil)

// Filter runs the Sieve scripts of every local delivery (Agent.Filter):
// the domain's before scripts, the mailbox's active script, the domain's
// after scripts, as one execution. A mailbox's vacation setting runs as a
// generated script before them all.
type Filter struct {
	Store    SieveStore
	Hostname string // of the reject notices and vacation Message-IDs
	Options  sieve.Options
	Limits   sieve.Limits
	// RedirectsPerDay bounds a mailbox's redirects per day (UTC); 0 means 100.
	RedirectsPerDay int
	Log             *slog.Logger

	mu    sync.Mutex
	cache map[[2]int64]*sieve.Script // by script id and version
}

// cacheMax bounds the compiled scripts kept; past it the cache starts over.
const cacheMax = 20000

// vacationHandle names the replies of the generated vacation script.
const vacationHandle = "mailhost-vacation-setting"

// compiled returns a script version compiled, from the cache or the store.
func (f *Filter) compiled(ctx context.Context, ref store.SieveRef) (*sieve.Script, error) {
	key := [2]int64{ref.ID, ref.Version}
	f.mu.Lock()
	s := f.cache[key]
	f.mu.Unlock()
	if s != nil {
		return s, nil
	}
	src, err := f.Store.SieveContent(ctx, ref)
	if err != nil {
		return nil, err
	}
	s, err = sieve.Compile(src, f.Options)
	if err != nil {
		return nil, fmt.Errorf("script %q: %w", ref.Name, err)
	}
	f.mu.Lock()
	if f.cache == nil || len(f.cache) >= cacheMax {
		f.cache = map[[2]int64]*sieve.Script{}
	}
	f.cache[key] = s
	f.mu.Unlock()
	return s, nil
}

// includer finds include's scripts among the mailbox's and its domain's.
type includer struct {
	f         *Filter
	mailboxID int64
}

func (i includer) Include(ctx context.Context, global bool, name string) (*sieve.Script, error) {
	ref, err := i.f.Store.SieveInclude(ctx, i.mailboxID, global, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, sieve.ErrNoScript
	}
	if err != nil {
		return nil, err
	}
	return i.f.compiled(ctx, ref)
}

// folders answers mailboxexists from the Maildir.
type folders struct{ mb maildir.Mailbox }

func (f folders) MailboxExists(name string) bool {
	if strings.EqualFold(name, "INBOX") {
		return true
	}
	_, err := f.mb.Folder(name)
	return err == nil
}

// sievePlan is what the filter decided for one delivery: the copies to
// write (Recipient, each with its folder and flags) and, after the commit,
// the vacation replies to consider.
type sievePlan struct {
	vacations []pendingVacation
	rejects   []rejectLink // logged once committed
}

// rejectLink names the notice a Sieve reject queued: a message of its own.
type rejectLink struct {
	mailbox, noticeID string
}

type pendingVacation struct {
	target store.LocalTarget
	from   string // the envelope sender answered
	action sieve.Action
}

// apply runs the scripts of each recipient and returns the copies to
// write and the messages to queue (redirects, reject notices) besides
// queue. A recipient without scripts passes unchanged.
func (f *Filter) apply(ctx context.Context, a *Agent, msg Message, rcpts []Recipient, queue []store.QueuedMessage) ([]Recipient, []store.QueuedMessage, *sievePlan) {
	plan := &sievePlan{}
	var out []Recipient
	var raw []byte
	for _, r := range rcpts {
		t := r.Target
		if !t.Sieve && !t.Vacation {
			out = append(out, r) // no script anywhere: no query
			continue
		}
		chain, err := f.chain(ctx, t)
		if err != nil {
			f.failed(ctx, t, err)
			out = append(out, r)
			continue
		}
		if len(chain) == 0 {
			out = append(out, r)
			continue
		}
		if raw == nil {
			raw = make([]byte, 0, len(msg.Header)+len(msg.Body))
			raw = append(append(raw, msg.Header...), msg.Body...)
		}
		copies, q, vac, err := f.run(ctx, a, raw, r, chain)
		if err != nil {
			f.failed(ctx, t, err)
			r.Target.Vacation = false // a failed run answers nothing
			out = append(out, r)
			continue
		}
		out = append(out, copies...)
		for i := range q {
			if q[i].Origin == "forward" {
				q[i].QueueID = msg.QueueID // a redirect is a copy of the message
			} else {
				q[i].QueueID = store.NewQueueID() // a reject's notice is a message of its own
				plan.rejects = append(plan.rejects, rejectLink{mailbox: t.Address, noticeID: q[i].QueueID})
			}
		}
		queue = append(queue, q...)
		plan.vacations = append(plan.vacations, vac...)
	}
	return out, queue, plan
}

// failed records a failure of a recipient's scripts for its owner; the
// message is delivered as if there were no script.
func (f *Filter) failed(ctx context.Context, t store.LocalTarget, err error) {
	f.log().Warn("sieve: script failed, delivering to the default folder", "mailbox", t.Address, "err", err)
	msg := "the filter could not run"
	var re *sieve.RuntimeError
	var ce *sieve.Error
	switch {
	case errors.As(err, &re):
		msg = re.Msg
	case errors.As(err, &ce):
		msg = ce.Error()
	}
	if rerr := f.Store.RecordSieveError(context.WithoutCancel(ctx), t.MailboxID, msg); rerr != nil {
		f.log().Error("sieve: record error", "mailbox", t.Address, "err", rerr)
	}
}

func (f *Filter) log() *slog.Logger {
	if f.Log == nil {
		return slog.Default()
	}
	return f.Log
}

// chain compiles the recipient's scripts: the domain's before scripts, the
// generated vacation script, the owner's script, the domain's after
// scripts.
func (f *Filter) chain(ctx context.Context, t store.LocalTarget) ([]*sieve.Script, error) {
	refs, err := f.Store.SieveChain(ctx, t.MailboxID)
	if err != nil {
		return nil, err
	}
	var out []*sieve.Script
	for i := 0; i <= len(refs); i++ {
		if t.Vacation && (i == len(refs) || refs[i].Position != store.SieveBefore) {
			s, err := f.vacationSetting(ctx, t)
			if err != nil {
				return nil, err
			}
			if s != nil {
				out = append(out, s)
			}
			t.Vacation = false
		}
		if i == len(refs) {
			break
		}
		s, err := f.compiled(ctx, refs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// vacationSetting is the mailbox's vacation setting as a script, nil when
// it is not active any more.
func (f *Filter) vacationSetting(ctx context.Context, t store.LocalTarget) (*sieve.Script, error) {
	v, err := f.Store.ActiveVacation(ctx, t.MailboxID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return sieve.Compile(vacationScript(v), sieve.Options{MaxScriptSize: 1 << 20})
}

// vacationScript expresses a mailbox's vacation setting as Sieve.
func vacationScript(v store.Vacation) string {
	return fmt.Sprintf("require [\"vacation\", \"vacation-seconds\"];\nvacation :seconds %d :subject %s :handle %q %s;\n",
		v.IntervalSeconds, sieveQuote(v.Subject), vacationHandle, sieveQuote(v.Body))
}

// sieveQuote writes s as a Sieve quoted string (RFC 5228 2.4.2).
func sieveQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// run runs one recipient's chain and turns the actions into copies and
// queued messages.
func (f *Filter) run(ctx context.Context, a *Agent, raw []byte, r Recipient, chain []*sieve.Script) ([]Recipient, []store.QueuedMessage, []pendingVacation, error) {
	t := r.Target
	from, to := envelopeOf(r)
	m := sieve.NewMessage(raw)
	mb := maildir.Mailbox{Path: filepath.Join(a.Root, filepath.Clean(t.Maildir)), Owner: a.Owner, Names: a.Names}
	res, err := sieve.Run(ctx, sieve.Input{
		Message: m, Envelope: sieve.Envelope{From: from, To: to},
		Scores: sieve.HeaderScores{Msg: m}, Mailboxes: folders{mb}, Includer: includer{f, t.MailboxID},
		Limits: f.Limits,
	}, chain...)
	if err != nil {
		return nil, nil, nil, err
	}
	var copies []Recipient
	var queue []store.QueuedMessage
	var vacs []pendingVacation
	var redirects []string
	// One copy per folder: keep and fileinto "INBOX", or two fileinto of
	// one folder, store the message once (RFC 5228 4.1, 4.2).
	seen := map[string]bool{}
	add := func(c Recipient) {
		k := c.Target.Folder
		if strings.EqualFold(k, "INBOX") {
			k = "INBOX"
		}
		if !seen[k] {
			seen[k] = true
			copies = append(copies, c)
		}
	}
	for _, act := range res.Actions {
		switch act.Kind {
		case sieve.Keep:
			c := r
			c.Target.Vacation, c.Flags = false, act.Flags
			add(c)
		case sieve.FileInto:
			c := r
			c.Target.Vacation, c.Flags = false, act.Flags
			c.Target.Folder, c.Target.FolderID = act.Mailbox, 0
			if act.Create {
				if err := mb.CreateFolder(act.Mailbox); err != nil && !errors.Is(err, fs.ErrExist) {
					f.log().Warn("sieve: fileinto :create", "mailbox", t.Address, "folder", act.Mailbox, "err", err)
				}
			}
			add(c)
		case sieve.Redirect:
			redirects = append(redirects, act.Address)
		case sieve.Reject, sieve.EReject:
			if from != "" { // never answer the null sender
				queue = append(queue, rejectNotice(f.Hostname, from, t.Address, act.Reason, raw))
			}
		case sieve.Vacation:
			vacs = append(vacs, pendingVacation{target: t, from: from, action: act})
		}
	}
	q, kept := f.redirect(ctx, r, raw, from, redirects)
	queue = append(queue, q...)
	if kept && len(copies) == 0 {
		c := r
		c.Target.Vacation = false
		copies = append(copies, c)
	}
	return copies, queue, vacs, nil
}

// envelopeOf is the envelope a recipient's scripts see: the MTA's, else the
// Return-Path of the copy and the mailbox address.
func envelopeOf(r Recipient) (from, to string) {
	from, to = r.From, r.To
	if from == "" {
		h := mailheader.Parse(r.Header)
		from = strings.Trim(strings.TrimSpace(h.Get("Return-Path")), "<>")
	}
	if to == "" {
		to = r.Target.Address
	}
	return from, to
}

// redirect queues the redirected copies: as forwarding does (the original
// sender, origin "forward", the copy's Delivered-To kept so a loop back
// here is refused), within the mailbox's daily allowance, and never for a
// message that was already delivered to this mailbox (a redirect loop).
// Redirects refused by the limit or the loop check are recorded for the
// owner and the message is kept (kept true).
func (f *Filter) redirect(ctx context.Context, r Recipient, raw []byte, from string, addrs []string) ([]store.QueuedMessage, bool) {
	if len(addrs) == 0 {
		return nil, false
	}
	t := r.Target
	if deliveredBefore(raw, t.Address) {
		f.failed(ctx, t, &sieve.RuntimeError{Msg: "redirect refused: the message was already delivered to " + t.Address + " (a redirect loop)"})
		return nil, true
	}
	limit := f.RedirectsPerDay
	if limit <= 0 {
		limit = 100
	}
	n, err := f.Store.SieveRedirectAllowance(ctx, t.MailboxID, len(addrs), limit)
	if err != nil {
		f.failed(ctx, t, err)
		return nil, true
	}
	kept := false
	if n < len(addrs) {
		f.failed(ctx, t, &sieve.RuntimeError{Msg: "redirect refused: more than " + strconv.Itoa(limit) + " redirects today"})
		addrs, kept = addrs[:n], true
	}
	if len(addrs) == 0 {
		return nil, kept
	}
	hdr := bytes.TrimPrefix(r.Header, []byte(returnPathLine(r.Header)))
	body := make([]byte, 0, len(hdr)+len(raw))
	body = append(append(body, hdr...), raw...)
	m := store.QueuedMessage{Sender: from, Origin: "forward", Body: body}
	for _, addr := range addrs {
		domain := strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
		m.Recipients = append(m.Recipients, store.QueuedRecipient{Address: addr, Domain: domain})
	}
	return []store.QueuedMessage{m}, kept
}

// returnPathLine is the Return-Path line at the start of a copy's header,
// or "": it does not travel with a redirected message (RFC 5321 4.4).
func returnPathLine(h []byte) string {
	if !bytes.HasPrefix(bytes.ToLower(h), []byte("return-path:")) {
		return ""
	}
	if i := bytes.Index(h, []byte("\r\n")); i >= 0 {
		return string(h[:i+2])
	}
	return ""
}

// deliveredBefore reports whether the message carries Delivered-To of addr.
func deliveredBefore(raw []byte, addr string) bool {
	h := mailheader.Parse(raw)
	for fs := h.FieldsByKey("Delivered-To"); fs.Next(); {
		if strings.EqualFold(strings.TrimSpace(fs.Value()), addr) {
			return true
		}
	}
	return false
}
