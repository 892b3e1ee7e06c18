package mta

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"mailhost/address"
	smtp "mailhost/smtpd"
	"mailhost/store"
)

// verdict is what an access rule says about a transaction.
type verdict struct {
	permit  bool            // OK, DISCARD: skip the later access checks and the DNS block lists
	discard bool            // DISCARD: accept the message and drop it
	hold    bool            // HOLD: accept the message into the queue, on hold
	reply   *smtp.SMTPError // REJECT, DEFER, "nnn text": refuse with this reply
}

// ruleVerdict applies an access rule (Postfix access(5)): OK, DUNNO (as if
// no rule matched), REJECT [text] (554 5.7.1), DEFER [text] (450 4.7.1),
// DISCARD [text], HOLD [text], or "nnn [x.y.z] text" with that reply. A
// text of REJECT or DEFER may start with an RFC 3463 status code, as
// Postfix reads it. what names the thing checked ("Sender address"),
// subject its value.
func ruleVerdict(r store.AccessRule, what, subject string) verdict {
	verb, text, _ := strings.Cut(r.Action, " ")
	switch verb {
	case "OK":
		return verdict{permit: true}
	case "DUNNO":
		return verdict{}
	case "DISCARD":
		return verdict{permit: true, discard: true}
	case "HOLD":
		return verdict{hold: true}
	case "REJECT":
		return verdict{reply: refusal(554, text, what, subject)}
	case "DEFER":
		return verdict{reply: refusal(450, text, what, subject)}
	}
	n, err := strconv.Atoi(verb)
	if err != nil || len(verb) != 3 || n < 400 || n > 599 {
		// The schema admits no other action; answer as for any fault.
		return verdict{reply: smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "Temporary failure, please try again later")}
	}
	return verdict{reply: refusal(n, text, what, subject)}
}

// refusal is the reply of a refusing rule: "<subject>: what rejected:
// text", the enhanced code from the text when it starts with one of the
// reply's class, else x.7.1 (RFC 3463: delivery not authorized).
func refusal(code int, text, what, subject string) *smtp.SMTPError {
	ec := smtp.EnhancedCode{code / 100, 7, 1}
	if first, rest, _ := strings.Cut(text, " "); first != "" {
		if c, ok := parseEnhanced(first); ok && c[0] == code/100 {
			ec, text = c, rest
		}
	}
	if text == "" {
		text = "Access denied"
	}
	return smtpErr(code, ec, "<%s>: %s rejected: %s", subject, what, text)
}

func parseEnhanced(s string) (smtp.EnhancedCode, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return smtp.EnhancedCode{}, false
	}
	var c smtp.EnhancedCode
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 {
			return smtp.EnhancedCode{}, false
		}
		c[i] = n
	}
	return c, c[0] == 4 || c[0] == 5
}

// checkDNSBL looks the client up in each configured zone and returns the
// first zone that lists it, or "". Lookups failing, and answers that are
// a list's error codes (e.g. Spamhaus's 127.255.255.x "query refused"),
// are logged and ignored.
func (s *Server) checkDNSBL(ctx context.Context, cc *clientConn) string {
	if !cc.ip.IsValid() {
		return ""
	}
	for _, zone := range s.cfg.DNSBL {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		listed, err := s.cfg.DNS.BlockList(lctx, zone, cc.ip)
		cancel()
		if err != nil {
			s.log.Warn("dnsbl lookup failed", "conn", cc.id, "client", cc.ip.String(), "zone", zone, "err", err)
			continue
		}
		if len(listed) > 0 {
			s.log.Info("dnsbl listed", "conn", cc.id, "client", cc.ip.String(), "zone", zone, "answer", listed[0].String())
			return zone
		}
	}
	return ""
}

// accessResult is what the client, HELO and sender rules decided.
type accessResult struct {
	permit        bool
	discard, hold string // the rule that said so ("sender spam.example"), "" when none
}

// sessionRules applies the client, HELO and sender rules at MAIL, in that
// order, as Postfix does with check_client_access, check_helo_access and
// check_sender_access in one restriction list: the first refusal refuses
// MAIL; OK and DISCARD accept and skip the kinds after them (and the
// recipient rules and the DNS block lists); HOLD marks the message and
// goes on. The returned error is the reply.
func (s *session) sessionRules(rules store.SessionRules, from string) (accessResult, error) {
	var out accessResult
	for _, c := range []struct {
		r       *store.AccessRule
		what    string
		subject string
	}{
		{rules.Client, "Client host", s.cc.ip.String()},
		{rules.Helo, "Helo command", s.conn.Hostname()},
		{rules.Sender, "Sender address", from},
	} {
		if c.r == nil {
			continue
		}
		v := ruleVerdict(*c.r, c.what, c.subject)
		if v.reply != nil {
			return accessResult{}, s.reject("MAIL", "access_"+c.r.Kind, v.reply, "rule", c.r.Pattern)
		}
		if v.hold {
			out.hold = c.r.Kind + " " + c.r.Pattern
		}
		if v.discard {
			out.discard = c.r.Kind + " " + c.r.Pattern
		}
		if v.permit {
			out.permit = true
			break
		}
	}
	return out, nil
}

// recipientRule applies the most specific recipient rule of addr at RCPT,
// unless an earlier rule of the transaction said OK. A refusal refuses
// this recipient only; a DISCARD or HOLD, returned, acts on the whole
// message once the recipient is accepted (recipientAccepted), as in
// Postfix. An OK skips nothing that protects the server: the recipient
// must still exist here, or the client may relay.
func (s *session) recipientRule(ctx context.Context, to, addr string) (accessResult, error) {
	if !s.rules.HasRecipientRules || s.permit {
		return accessResult{}, nil
	}
	r, err := s.srv.store.RecipientRule(ctx, addr)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return accessResult{}, nil
	case err != nil:
		return accessResult{}, s.temp("RCPT", err, "to", addr)
	}
	v := ruleVerdict(r, "Recipient address", to)
	if v.reply != nil {
		return accessResult{}, s.reject("RCPT", "access_recipient", v.reply, "to", addr, "rule", r.Pattern)
	}
	var out accessResult
	if v.discard {
		out.discard = "recipient " + r.Pattern
	}
	if v.hold {
		out.hold = "recipient " + r.Pattern
	}
	return out, nil
}

// recipientAccepted makes an accepted recipient's DISCARD or HOLD the
// message's; a refused recipient's rule has no effect.
func (s *session) recipientAccepted(ac accessResult) {
	if ac.discard != "" {
		s.discard = ac.discard
	}
	if ac.hold != "" {
		s.hold = ac.hold
	}
}

// queueHeld puts an accepted message on hold (an access rule's HOLD, as
// Postfix's hold queue): one queue row for every recipient, local ones
// included, which the queue tools release (delivered then, through the
// delivery agent for hosted addresses) or delete. Copies forwarded to
// outside addresses are held in a second message with the SRS sender
// (srs.go).
func (s *session) queueHeld(header, body []byte, qid string) error {
	full := make([]byte, 0, len(header)+len(body))
	full = append(append(full, header...), body...)
	origin := "smtp"
	if s.acct != nil {
		origin = "submission"
	}
	m := store.QueuedMessage{QueueID: qid, Sender: s.from, Origin: origin, ClientAddr: s.cc.ip.String(), Helo: s.conn.Hostname(),
		AuthUser: s.authUser(), EnvID: s.opts.EnvelopeID, Ret: string(s.opts.Return), Body: full, Hold: true}
	fwd := m
	fwd.Origin = "forward"
	var err error
	if fwd.Sender, err = s.forwardSender(); err != nil {
		return s.temp("DATA", err, "queue_id", qid)
	}
	seen := map[string]bool{}
	add := func(to *store.QueuedMessage, r store.QueuedRecipient) {
		if !seen[r.Address] {
			seen[r.Address] = true
			to.Recipients = append(to.Recipients, r)
		}
	}
	for _, rc := range s.rcpts {
		if len(rc.res.Local) > 0 {
			// Resolved again at release: the queue delivers hosted
			// addresses (and their forwardings) through the agent.
			_, dom := address.Split(rc.addr)
			add(&m, store.QueuedRecipient{Address: rc.addr, Domain: dom, OrigRecipient: rc.dsn.orcpt,
				OrigRecipientType: rc.dsn.orcptType, Notify: rc.dsn.notify})
			continue
		}
		for _, t := range rc.res.Remote {
			_, pass := forwardedDSN(rc.res, rc.given, rc.dsn) // dsnparams.go
			r := store.QueuedRecipient{Address: t.Address, Domain: t.Domain, NextHop: t.NextHop,
				OrigRecipient: pass.orcpt, OrigRecipientType: pass.orcptType, Notify: pass.notify}
			if t.Relay || fwd.Sender == m.Sender {
				add(&m, r)
			} else {
				add(&fwd, r)
			}
		}
	}
	var msgs []store.QueuedMessage
	for _, q := range []store.QueuedMessage{m, fwd} {
		if len(q.Recipients) > 0 {
			msgs = append(msgs, q)
		}
	}
	signQueued(s.ctx, s.srv.cfg.DKIM, s.log, msgs)
	ids, err := s.srv.store.Enqueue(s.ctx, msgs...)
	if err != nil {
		return s.temp("DATA", err, "queue_id", qid, "size", len(full))
	}
	s.srv.metrics.Accepted.Inc()
	s.srv.metrics.Bytes.Add(float64(len(full)))
	for i, q := range msgs {
		s.log.Info("hold", "queue_id", qid, "queue_row", ids[i], "from", q.Sender, "helo", s.conn.Hostname(),
			"rcpts", recipientList(q.Recipients), "size", len(full), "rule", s.hold)
	}
	return smtpErr(250, smtp.EnhancedCode{2, 0, 0}, "Ok: queued as %s", qid)
}
