package mda

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"strings"
	"time"

	"mailhost/mailheader"
	"mailhost/store"
)

// rejectNotice is the bounce of a Sieve reject or ereject (RFC 5429 2.1,
// 2.2): a delivery status notification (RFC 3464) from the null sender,
// with the reason and the original header. Deliveries here are not tied to
// the SMTP transaction (one DATA reply covers every recipient, and the
// queue delivers later), so both reject forms answer this way.
func rejectNotice(hostname, sender, rcpt, reason string, raw []byte) store.QueuedMessage {
	boundary := randomToken(12)
	now := time.Now()
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\r\n", a...) }
	w("From: Mail Delivery System <MAILER-DAEMON@%s>", hostname)
	w("To: <%s>", sender)
	w("Subject: Message rejected: %s", mime.QEncoding.Encode("utf-8", "refused by the recipient's filter"))
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <%s.%s@%s>", now.UTC().Format("20060102150405"), randomToken(6), hostname)
	w("Auto-Submitted: auto-replied (rejected)")
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"", boundary)
	w("")
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=utf-8")
	w("Content-Transfer-Encoding: 8bit")
	w("")
	w("Your message to <%s> was refused by the recipient's mail filter:", rcpt)
	w("")
	b.WriteString(crlf(reason))
	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("")
	w("Reporting-MTA: dns; %s", hostname)
	w("Arrival-Date: %s", now.Format(time.RFC1123Z))
	w("")
	w("Final-Recipient: rfc822; %s", rcpt)
	w("Action: failed")
	w("Status: 5.7.1")
	w("")
	w("--%s", boundary)
	w("Content-Type: text/rfc822-headers")
	w("")
	h := mailheader.Parse(raw)
	if h.Size > 0 && h.Size <= len(raw) {
		b.Write(bytes.TrimRight(raw[:h.Size], "\r\n"))
		w("")
	}
	w("--%s--", boundary)
	domain := strings.ToLower(sender[strings.LastIndexByte(sender, '@')+1:])
	return store.QueuedMessage{Origin: "bounce", Body: b.Bytes(),
		Recipients: []store.QueuedRecipient{{Address: sender, Domain: domain}}}
}

// crlf gives text CRLF line ends and a final line end.
func crlf(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
	if !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	return s
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// vacations answers the senders of the delivered copies whose scripts
// asked for a vacation reply (RFC 5230, RFC 3834), after the commit. A
// reply is a courtesy: failures are logged, never the delivery's.
func (f *Filter) vacations(ctx context.Context, qid string, plan *sievePlan, outs []Outcome, raw []byte) {
	if plan == nil || len(plan.vacations) == 0 {
		return
	}
	delivered := map[int64]bool{}
	for _, o := range outs {
		if !o.OverQuota {
			delivered[o.Recipient.Target.MailboxID] = true
		}
	}
	h := mailheader.Parse(raw)
	for _, v := range plan.vacations {
		t := v.target
		if !delivered[t.MailboxID] {
			continue
		}
		if why := mailheader.AutoReplyRefusal(v.from, &h); why != "" {
			f.log().Debug("sieve: no vacation reply", "mailbox", t.Address, "from", v.from, "why", why)
			continue
		}
		own := append([]string{t.Address}, v.action.Vacation.Addresses...)
		if containsFold(own, v.from) || !addressedToAny(&h, own) {
			f.log().Debug("sieve: no vacation reply: not addressed to the mailbox", "mailbox", t.Address)
			continue
		}
		reply := vacationMessage(f.Hostname, t.Address, v, &h)
		sender := strings.ToLower(v.from)
		domain := sender[strings.LastIndexByte(sender, '@')+1:]
		q := store.QueuedMessage{QueueID: store.NewQueueID(), Origin: "vacation", Body: reply,
			Recipients: []store.QueuedRecipient{{Address: v.from, Domain: domain}}}
		sent, err := f.Store.SieveVacationReply(ctx, t.MailboxID, v.action.Vacation.Handle, sender, v.action.Vacation.Period, q)
		switch {
		case err != nil:
			f.log().Error("sieve: vacation reply", "mailbox", t.Address, "err", err)
		case sent:
			f.log().Info("sender notified", "queue_id", qid, "notice_id", q.QueueID, "mailbox", t.Address, "to", v.from,
				"kind", "vacation")
		}
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// addressedToAny reports whether one of addrs is in To, Cc, Bcc,
// Resent-To or Resent-Cc (RFC 5230 4.5).
func addressedToAny(h *mailheader.Header, addrs []string) bool {
	for _, f := range []string{"To", "Cc", "Bcc", "Resent-To", "Resent-Cc"} {
		list, _ := h.Addresses(f)
		for _, a := range list {
			if containsFold(addrs, a) {
				return true
			}
		}
	}
	return false
}

// vacationMessage builds the reply (RFC 5230 4, RFC 3834 3).
func vacationMessage(hostname, mailbox string, v pendingVacation, h *mailheader.Header) []byte {
	vr := v.action.Vacation
	now := time.Now()
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\r\n", a...) }
	from := vr.From
	if from == "" {
		from = "<" + mailbox + ">"
	}
	subject := vr.Subject
	if subject == "" {
		// RFC 5230 4.3: "Auto:" and the original subject.
		orig, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
		if err != nil {
			orig = h.Get("Subject")
		}
		subject = "Auto: " + strings.TrimSpace(orig)
	}
	w("From: %s", from)
	w("To: <%s>", v.from)
	w("Subject: %s", mime.QEncoding.Encode("utf-8", subject))
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <%s.%s@%s>", now.UTC().Format("20060102150405"), randomToken(6), hostname)
	if id := h.Get("Message-Id"); id != "" {
		w("In-Reply-To: %s", id)
		w("References: %s", strings.TrimSpace(h.Get("References")+" "+id))
	}
	w("Auto-Submitted: auto-replied (vacation)")
	w("MIME-Version: 1.0")
	if vr.MIME {
		// RFC 5230 4.4: the reason is a MIME entity, its header included.
		b.WriteString(crlf(v.action.Reason))
		return b.Bytes()
	}
	w("Content-Type: text/plain; charset=utf-8")
	w("Content-Transfer-Encoding: 8bit")
	w("")
	b.WriteString(crlf(v.action.Reason))
	return b.Bytes()
}
