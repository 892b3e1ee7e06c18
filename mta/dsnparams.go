package mta

import (
	"fmt"
	"strings"
	"time"

	"mailhost/address"
	"mailhost/mda"
	smtp "mailhost/smtpd"
	"mailhost/store"
)

// DSN parameters (RFC 3461): smtpd parses RET, ENVID, NOTIFY and ORCPT
// and answers their syntax errors with 501 5.5.4 naming the parameter,
// as Postfix words them; the length limits are checked here. A
// recipient's parameters travel with its queued copies, are passed on to
// a next hop that offers DSN (outbound.go) and decide which notices the
// sender gets (outfinish.go, and the reports of success below).

// RFC 3461 4.4 and 4.2: the longest ENVID and ORCPT values, as sent.
const (
	maxEnvID = 100
	maxOrcpt = 500
)

// checkMailDSN refuses an ENVID longer than RFC 3461 allows.
func checkMailDSN(opts *smtp.MailOptions) *smtp.SMTPError {
	if n := len(xtext(opts.EnvelopeID)); n > maxEnvID {
		return smtpErr(501, smtp.EnhancedCode{5, 5, 4},
			"ENVID parameter value too long (%d characters, at most %d)", n, maxEnvID)
	}
	return nil
}

// rcptDSN is what a recipient asked for: NOTIFY (comma-separated, upper
// case, "" when absent) and ORCPT.
type rcptDSN struct {
	notify    string
	orcpt     string // the address, xtext decoded
	orcptType string // "rfc822" or "utf-8"; "" without ORCPT
}

// rcptDSNOf reads a RCPT's DSN parameters, refusing an ORCPT longer than
// RFC 3461 allows.
func rcptDSNOf(opts *smtp.RcptOptions) (rcptDSN, *smtp.SMTPError) {
	var d rcptDSN
	var n []string
	for _, v := range opts.Notify {
		n = append(n, string(v))
	}
	d.notify = strings.Join(n, ",")
	if opts.OriginalRecipient != "" {
		d.orcpt, d.orcptType = opts.OriginalRecipient, strings.ToLower(string(opts.OriginalRecipientType))
		if l := len(d.orcptType) + 1 + len(orcptXtext(d.orcptType, d.orcpt)); l > maxOrcpt {
			return d, smtpErr(501, smtp.EnhancedCode{5, 5, 4},
				"ORCPT parameter value too long (%d characters, at most %d)", l, maxOrcpt)
		}
	}
	return d, nil
}

// notifyAsks: the recipient named kind in NOTIFY (an absent NOTIFY asks
// for no report of success: RFC 3461 4.1).
func notifyAsks(notify, kind string) bool {
	return strings.Contains(strings.ToUpper(notify), kind)
}

// forwardedDSN applies RFC 3461 6.2.7 to a recipient resolved to res: the
// action of the report of success this MTA owes once the message is
// delivered here ("" when none is ours to send), and the parameters its
// queued remote copies carry. One destination: a mailbox is "delivered";
// a single remote address (relay, forward) carries the request on, with
// ORCPT set to the address the sender gave when there was none (RFC 3461
// 4.2 allows it). Several: "expanded", and the copies ask for no success
// report (6.2.7.3), NEVER if that was all they asked.
func forwardedDSN(res store.Resolution, given string, d rcptDSN) (action string, pass rcptDSN) {
	pass = d
	if pass.orcpt == "" && isASCII(given) && !isBarePostmaster(given) {
		pass.orcpt, pass.orcptType = given, "rfc822"
	}
	switch n := len(res.Local) + len(res.Remote); {
	case n == 1 && len(res.Local) == 1:
		return "delivered", pass
	case n == 1:
		if res.Remote[0].Relay {
			return "", d // the sender's own request, as given
		}
		return "", pass
	}
	if d.notify != "" {
		var left []string
		for _, k := range strings.Split(d.notify, ",") {
			if k != string(smtp.DSNNotifySuccess) {
				left = append(left, k)
			}
		}
		pass.notify = strings.Join(left, ",")
		if pass.notify == "" {
			pass.notify = string(smtp.DSNNotifyNever)
		}
	}
	return "expanded", pass
}

// orcptField is the Original-Recipient field's value (RFC 3464 2.3.1).
func orcptField(typ, addr string) string {
	if addr == "" {
		return ""
	}
	if typ == "" {
		typ = "rfc822"
	}
	if typ == "utf-8" {
		return "utf-8; " + utf8AddrXtext(addr) // RFC 6533 3: in message/delivery-status
	}
	return typ + "; " + addr
}

// orcptXtext is the ORCPT address as sent: xtext (RFC 3461 4), or the
// utf-8-addr-xtext of RFC 6533 for the utf-8 type.
func orcptXtext(typ, addr string) string {
	if typ == "utf-8" {
		return utf8AddrXtext(addr)
	}
	return xtext(addr)
}

// utf8AddrXtext encodes an address as RFC 6533 utf-8-addr-xtext: printable
// ASCII but "+", "=" and "\" as it is, everything else \x{HEX}.
func utf8AddrXtext(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '!' && r <= '~' && r != '+' && r != '=' && r != '\\' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, `\x{%X}`, r)
		}
	}
	return b.String()
}

// successDSNs are the reports of success (RFC 3461 NOTIFY=SUCCESS) for the
// recipients of a message delivered here in the SMTP session: a mailbox
// whose copy was committed ("delivered"), an address expanded to several
// ("expanded"). Recipients whose single remote copy was queued are
// reported on by the queue (relayed, or passed on). None to the null
// sender.
func (s *session) successDSNs(header, body []byte, qid string, outs []mda.Outcome) []store.QueuedMessage {
	if s.from == "" {
		return nil
	}
	refused := map[int64]bool{}
	for _, o := range outs {
		if o.OverQuota {
			refused[o.Recipient.Target.MailboxID] = true
		}
	}
	var rcpts []DSNRecipient
	for _, rc := range s.rcpts {
		if !notifyAsks(rc.dsn.notify, "SUCCESS") {
			continue
		}
		action, _ := forwardedDSN(rc.res, rc.given, rc.dsn)
		if action == "" || action == "delivered" && refused[rc.res.Local[0].MailboxID] {
			continue
		}
		rcpts = append(rcpts, DSNRecipient{Address: rc.addr, Status: "2.0.0", Action: action,
			OrigRcpt: orcptField(rc.dsn.orcptType, rc.dsn.orcpt)})
	}
	if len(rcpts) == 0 {
		return nil
	}
	orig := make([]byte, 0, len(header)+len(body))
	orig = append(append(orig, header...), body...)
	now := time.Now()
	msg := BuildDSN(DSN{ReportingMTA: s.srv.cfg.Hostname, Sender: s.from, EnvID: s.opts.EnvelopeID, QueueID: qid,
		Arrival: now, Recipients: rcpts, Original: orig, Now: now, Success: true})
	return []store.QueuedMessage{noticeTo(s.from, msg)}
}

// noticeTo is a DSN queued from the null sender to sender: a message of
// its own, with its own queue id.
func noticeTo(sender string, msg []byte) store.QueuedMessage {
	_, domain := address.Split(sender)
	if n, err := address.Normalize(sender); err == nil {
		_, domain = address.Split(n) // the A-label form
	}
	return store.QueuedMessage{QueueID: store.NewQueueID(), Sender: "", Origin: "bounce", Body: msg,
		Recipients: []store.QueuedRecipient{{Address: sender, Domain: strings.ToLower(domain)}}}
}

// successNotice is the queue's report of success for rcpts of j.
func (o *Outbound) successNotice(j store.QueueJob, rcpts []DSNRecipient, now time.Time) store.QueuedMessage {
	d := o.noticeDSN(j, rcpts, false, now)
	d.Success = true
	return noticeTo(j.Sender, BuildDSN(d))
}

// queueSuccessDSNs queues the session's reports of success once the
// delivery is committed. They are queued after that commit, not in it: a
// crash in between loses a report of success, never a message.
func (s *session) queueSuccessDSNs(header, body []byte, qid string, outs []mda.Outcome) {
	msgs := s.successDSNs(header, body, qid, outs)
	if len(msgs) == 0 {
		return
	}
	if _, err := s.srv.store.Enqueue(s.ctx, msgs...); err != nil {
		s.log.Error("report of success not queued", "queue_id", qid, "to", s.from, "err", err)
		return
	}
	s.log.Info("sender notified", "queue_id", qid, "notice_id", msgs[0].QueueID, "to", s.from, "kind", "success")
	if s.srv.cfg.Queued != nil {
		s.srv.cfg.Queued()
	}
}

// orcptParam is the ORCPT parameter's value: addr-type;xtext.
func orcptParam(typ, addr string) string {
	if typ == "" {
		typ = "rfc822"
	}
	return typ + ";" + orcptXtext(typ, addr)
}
