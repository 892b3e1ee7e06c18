package mta

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"

	"mailhost/address"
	"mailhost/mailheader"
	"mailhost/mda"
	"mailhost/store"
)

// vacations sends the vacation replies (RFC 3834) of the mailboxes that
// got the message, after it is safely delivered. Failures are logged: a
// reply is a courtesy, never a reason to refuse mail.
func (s *session) vacations(qid string, outs []mda.Outcome, h *mailheader.Header) {
	var todo []store.LocalTarget
	for _, o := range outs {
		if !o.OverQuota && o.Recipient.Target.Vacation {
			todo = append(todo, o.Recipient.Target)
		}
	}
	if len(todo) == 0 {
		return
	}
	if why := noAutoReply(s.from, h); why != "" {
		s.log.Debug("no vacation reply", "from", s.from, "why", why)
		return
	}
	sender, err := address.Normalize(s.from)
	if err != nil {
		return
	}
	for _, t := range todo {
		if !addressedTo(h, t.Address, s.rcpts) {
			s.log.Debug("no vacation reply: not in To/Cc", "mailbox", t.Address)
			continue
		}
		ctx := s.ctx
		v, err := s.srv.store.ActiveVacation(ctx, t.MailboxID)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				s.log.Error("vacation", "mailbox", t.Address, "err", err)
			}
			continue
		}
		reply := vacationReply(s.srv.cfg.Hostname, t.Address, s.from, v, h, time.Now())
		_, domain := address.Split(sender)
		q := store.QueuedMessage{QueueID: store.NewQueueID(), Sender: "", Origin: "vacation", Body: reply,
			Recipients: []store.QueuedRecipient{{Address: s.from, Domain: domain}}}
		qs := []store.QueuedMessage{q}
		signQueued(ctx, s.srv.cfg.DKIM, s.log, qs)
		q = qs[0]
		sent, err := s.srv.store.QueueVacationReply(ctx, t.MailboxID, sender,
			time.Duration(v.IntervalSeconds)*time.Second, q)
		switch {
		case err != nil:
			s.log.Error("vacation reply", "mailbox", t.Address, "err", err)
		case sent:
			s.log.Info("sender notified", "queue_id", qid, "notice_id", q.QueueID, "mailbox", t.Address, "to", s.from, "kind", "vacation")
		}
	}
}

// noAutoReply says why a message must not get an automatic reply (RFC
// 3834), or "": the rule Sieve's vacation follows too.
func noAutoReply(from string, h *mailheader.Header) string {
	return mailheader.AutoReplyRefusal(from, h)
}

// addressedTo reports whether the mailbox address, or the address the
// message was sent to that led to it, is in To or Cc (RFC 3834 2).
func addressedTo(h *mailheader.Header, mailbox string, rcpts []rcpt) bool {
	want := map[string]bool{strings.ToLower(mailbox): true}
	for _, r := range rcpts {
		for _, t := range r.res.Local {
			if strings.EqualFold(t.Address, mailbox) {
				want[r.addr] = true
			}
		}
	}
	for f := h.Fields(); f.Next(); {
		if k := f.Key(); k != "To" && k != "Cc" {
			continue
		}
		list, err := mailheader.ParseAddressList(f.Value())
		if err != nil {
			for a := range want {
				if strings.Contains(strings.ToLower(f.Value()), a) {
					return true
				}
			}
			continue
		}
		for _, a := range list {
			if n, err := address.Normalize(a); err == nil && want[n] {
				return true
			}
		}
	}
	return false
}

// vacationReply builds the auto-reply message (RFC 3834 3).
func vacationReply(hostname, mailbox, to string, v store.Vacation, h *mailheader.Header, now time.Time) []byte {
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\r\n", a...) }
	w("From: <%s>", mailbox)
	w("To: <%s>", to)
	w("Subject: %s", mime.QEncoding.Encode("utf-8", v.Subject))
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <%s.%s@%s>", now.UTC().Format("20060102150405"), randHex(6), hostname)
	if h.Has("Message-Id") {
		id := h.Get("Message-Id")
		w("In-Reply-To: %s", id)
		refs := h.Get("References")
		w("References: %s", strings.TrimSpace(refs+" "+id))
	}
	w("Auto-Submitted: auto-replied (vacation)")
	w("Precedence: bulk")
	w("MIME-Version: 1.0")
	w("Content-Type: text/plain; charset=utf-8")
	w("Content-Transfer-Encoding: 8bit")
	w("")
	body := strings.ReplaceAll(strings.ReplaceAll(v.Body, "\r\n", "\n"), "\n", "\r\n")
	b.WriteString(body)
	if !strings.HasSuffix(body, "\r\n") {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}
