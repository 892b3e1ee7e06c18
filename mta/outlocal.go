package mta

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"mailhost/mda"
	"mailhost/store"
)

// localDelivery lets the queue deliver to addresses hosted here (a bounce
// or vacation reply to a local sender, mail injected by sendmail) through
// the delivery agent instead of looping through SMTP.
type localDelivery struct {
	st     LocalStore
	agent  *mda.Agent
	delims string
	hosted hostedCache
}

// LocalStore is what the queue's local deliveries need from the
// database. *store.Store satisfies it.
type LocalStore interface {
	Recipients
	HostedDomains
}

// SetLocal makes the workers deliver hosted addresses through agent.
func (o *Outbound) SetLocal(st LocalStore, agent *mda.Agent, delims string) {
	o.local = &localDelivery{st: st, agent: agent, delims: delims}
}

// hostedTTL is how long the workers trust what they learnt about a
// recipient domain being hosted here. Most queued recipients are in
// domains that are not (submission to the world), and their resolution
// was a query per recipient for nothing. A domain made local within the
// TTL may still see a copy go out by SMTP, which brings it back through
// its MX; one removed is resolved and found remote.
const hostedTTL = 2 * time.Second

// hostedCache remembers for hostedTTL whether domains are hosted here.
type hostedCache struct {
	mu sync.Mutex
	m  map[string]hostedEntry
}

type hostedEntry struct {
	hosted bool
	at     time.Time
}

// maxHostedCache bounds the cache: past it, it starts again empty.
const maxHostedCache = 4096

// isHosted reports whether domain is a local domain or an alias domain
// of one, from the cache or else from st.
func (c *hostedCache) isHosted(ctx context.Context, st HostedDomains, domain string) (bool, error) {
	domain = strings.ToLower(domain)
	c.mu.Lock()
	e, ok := c.m[domain]
	c.mu.Unlock()
	if ok && time.Since(e.at) < hostedTTL {
		return e.hosted, nil
	}
	hosted, err := st.HostedDomain(ctx, domain) // not under the mutex: no worker waits on another's query
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxHostedCache {
		c.m = map[string]hostedEntry{}
	}
	c.m[domain] = hostedEntry{hosted: hosted, at: time.Now()}
	c.mu.Unlock()
	return hosted, nil
}

// tryLocal delivers r here when its address is hosted here; handled is
// false when it must go out by SMTP.
func (o *Outbound) tryLocal(ctx context.Context, j store.QueueJob, r store.QueueJobRecipient) (a attempt, handled bool) {
	if o.local == nil || r.NextHop != "" {
		return attempt{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, dbTimeout) // and within the attempt's deadline
	defer cancel()
	if hosted, err := o.local.hosted.isHosted(ctx, o.local.st, r.Domain); err == nil && !hosted {
		return attempt{}, false // remote, or a relay domain: SMTP
	} // an error: Resolve tells
	res, err := o.local.st.Resolve(ctx, r.Address, o.local.delims)
	var moved *store.RelocatedError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return attempt{rcpt: r, permanent: true, status: "5.1.1", diag: "x-mailhost; User unknown in virtual mailbox table"}, true
	case errors.Is(err, store.ErrDisabled):
		return attempt{rcpt: r, permanent: true, status: "5.2.1", diag: "x-mailhost; Mailbox disabled"}, true
	case errors.As(err, &moved):
		return attempt{rcpt: r, permanent: true, status: "5.1.6", diag: "x-mailhost; User has moved to " + moved.NewAddress}, true
	case err != nil:
		return attempt{rcpt: r, status: "4.3.0", diag: "x-mailhost; recipient lookup failed"}, true
	}
	if res.Foreign || len(res.Local) == 0 {
		return attempt{}, false // remote, or a relay domain: SMTP
	}
	var locals []mda.Recipient
	for _, t := range res.Local {
		locals = append(locals, mda.Recipient{Target: t,
			Header: []byte("Return-Path: <" + j.Sender + ">\r\nDelivered-To: " + t.Address + "\r\n")})
	}
	// RFC 3461 6.2.7 for the forwarded copies and the report of
	// success (dsnparams.go); SRS for their sender (srs.go).
	action, pass := forwardedDSN(res, r.Address, rcptDSN{notify: r.Notify, orcpt: r.OrigRecipient, orcptType: r.OrigRecipientType})
	var queue []store.QueuedMessage
	if len(res.Remote) > 0 {
		from, err := o.cfg.SRS.ForwardSender(ctx, j.Sender)
		if err != nil {
			o.log.Error("queue: forward sender", "queue_id", j.QueueID, "queue_row", j.ID, "to", r.Address, "err", err)
			return attempt{rcpt: r, status: "4.3.0", diag: "x-mailhost; local delivery failed"}, true
		}
		m := store.QueuedMessage{QueueID: j.QueueID, Sender: from, Origin: "forward", EnvID: j.EnvID, Ret: j.Ret, Body: j.Body}
		for _, t := range res.Remote {
			m.Recipients = append(m.Recipients, store.QueuedRecipient{Address: t.Address, Domain: t.Domain, NextHop: t.NextHop,
				OrigRecipient: pass.orcpt, OrigRecipientType: pass.orcptType, Notify: pass.notify})
		}
		queue = append(queue, m)
	}
	// Copies refused for quota while others were delivered are bounced
	// (a retry would deliver the others twice); refused alone, the
	// recipient is deferred below.
	var bounced []store.QueuedMessage
	onOverQuota := func(refused []mda.Outcome) []store.QueuedMessage {
		if j.Sender == "" {
			return nil // never bounce a bounce
		}
		bounced = []store.QueuedMessage{o.notice(j, quotaDSNRecipients(refused), false, time.Now())}
		return bounced
	}
	dres, err := o.local.agent.Deliver(ctx, mda.Message{Body: j.Body, QueueID: j.QueueID}, locals, queue, onOverQuota)
	switch {
	case errors.Is(err, mda.ErrOverQuota):
		// Postfix's virtual delivery defers a full mailbox; it bounces at
		// expiry.
		return attempt{rcpt: r, status: "4.2.2", diag: "x-mailhost; Mailbox full", remote: "dns; " + o.cfg.Hostname}, true
	case err != nil:
		o.log.Error("queue: local delivery failed", "queue_id", j.QueueID, "queue_row", j.ID, "to", r.Address, "err", err)
		return attempt{rcpt: r, status: "4.3.0", diag: "x-mailhost; local delivery failed"}, true
	}
	// Committed: the recipient is done whatever the outcomes say, or a
	// retry would deliver every committed copy again.
	for _, b := range bounced {
		o.log.Info("sender notified", "queue_id", j.QueueID, "queue_row", j.ID, "notice_id", b.QueueID, "to", j.Sender, "kind", "failure")
	}
	for _, oc := range dres.Outcomes {
		t := oc.Recipient.Target
		switch {
		case oc.OverQuota:
			o.log.Info("bounced", "queue_id", j.QueueID, "queue_row", j.ID, "to", t.Address, "status", "5.2.2", "reason", "mailbox full")
		case oc.Err != nil:
			o.log.Warn("queue: local copy kept for adoption", "queue_id", j.QueueID, "queue_row", j.ID, "to", t.Address, "err", oc.Err)
		case oc.WantedFolder != "":
			o.log.Warn("queue: folder gone, delivered to INBOX", "queue_id", j.QueueID, "queue_row", j.ID, "to", t.Address,
				"wanted_folder", oc.WantedFolder)
		}
	}
	if len(dres.Outcomes) == 1 && dres.Outcomes[0].OverQuota {
		action = "" // its one copy was bounced: no report of success
	}
	return attempt{rcpt: r, ok: true, status: "2.0.0", remote: "dns; " + o.cfg.Hostname, action: action}, true
}

// quotaDSNRecipients are the failed recipients of a bounce for copies
// refused for quota.
func quotaDSNRecipients(refused []mda.Outcome) []DSNRecipient {
	out := make([]DSNRecipient, len(refused))
	for i, o := range refused {
		out[i] = DSNRecipient{Address: o.Recipient.Target.Address, Status: "5.2.2",
			Diagnostic: "smtp; 552 5.2.2 Mailbox full"}
	}
	return out
}
