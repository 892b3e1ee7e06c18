package mta

import (
	"crypto/tls"
	"errors"
	"strings"

	"mailhost/address"
	"mailhost/contentfilter"
	smtp "mailhost/smtpd"
	"mailhost/store"
)

// runFilter passes the message (the cleanup header, then the message as
// received) through the listener's content filter stage (contentfilter,
// Config.Filter) and acts on its verdict: a refusal, a discard, a hold,
// recipient and sender changes, spam for the Junk folder, a changed
// message. It returns the header and body to deliver, or done with the
// reply when the stage decided the message.
func (s *session) runFilter(header, body []byte, qid string) (hdr, bdy []byte, done bool, reply error) {
	msg := make([]byte, 0, len(header)+len(body))
	msg = append(append(msg, header...), body...)
	env := contentfilter.Envelope{Listener: "smtp", QueueID: qid, ClientIP: s.cc.ip, Helo: s.conn.Hostname(),
		AuthUser: s.authUser(), From: s.from}
	if s.acct != nil {
		env.Listener = "submission"
	}
	if st, ok := s.conn.TLSConnectionState(); ok {
		env.TLSVersion, env.TLSCipher = tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)
	}
	for _, rc := range s.rcpts {
		env.Rcpts = append(env.Rcpts, contentfilter.Rcpt{Addr: rc.addr, Domain: policyDomain(rc.res)})
	}
	v, err := s.srv.cfg.Filter.Run(s.ctx, env, msg)
	if err != nil {
		return nil, nil, true, s.temp("DATA", err, "queue_id", qid)
	}
	s.logFilter(qid, &v)
	switch v.Verb {
	case contentfilter.Reject, contentfilter.Tempfail:
		e := v.Reply.Enhanced
		return nil, nil, true, s.reject("DATA", "content", smtpErr(v.Reply.Code, smtp.EnhancedCode{e[0], e[1], e[2]},
			"%s", v.Reply.Text), "queue_id", qid, "filter", v.Reason)
	case contentfilter.Discard:
		s.log.Info("discarded", "queue_id", qid, "from", s.from, "rcpts", s.rcptList(), "size", len(msg), "rule", v.Reason)
		s.srv.metrics.Accepted.Inc()
		return nil, nil, true, smtpErr(250, smtp.EnhancedCode{2, 0, 0}, "Ok: queued as %s", qid)
	case contentfilter.Hold:
		s.hold = v.Reason
	}
	if err := s.filterRecipients(&v, qid); err != nil {
		return nil, nil, true, err
	}
	field := []byte(v.Field + "\r\n")
	if v.Changed {
		return field, append(v.Header, v.Body...), false, nil
	}
	return append(field, header...), body, false, nil
}

// policyDomain is the hosted domain whose content policy applies to a
// recipient: its first mailbox's ("" when it has none here).
func policyDomain(res store.Resolution) string {
	if len(res.Local) > 0 {
		return res.Local[0].Domain
	}
	return ""
}

// filterRecipients applies the verdict to the recipients: those their
// domain refused go, spam is marked for the Junk folder, a REDIRECT rule
// replaces them all, milters add and remove some and may change the
// sender.
func (s *session) filterRecipients(v *contentfilter.Verdict, qid string) error {
	kept := s.rcpts[:0:0]
	for i, rc := range s.rcpts {
		if v.Drop[i] {
			s.log.Info("filter refused recipient", "queue_id", qid, "to", rc.addr, "filter", v.Reason)
			continue
		}
		if v.Junk[i] && rc.junk == "" { // a sender check's reason stays
			rc.junk = "spam"
		}
		kept = append(kept, rc)
	}
	s.rcpts = kept
	if v.Redirect != "" {
		s.rcpts = nil
		v.AddRcpts = []string{v.Redirect}
		v.DelRcpts = nil
	}
	for _, del := range v.DelRcpts {
		kept := s.rcpts[:0]
		for _, rc := range s.rcpts {
			if !strings.EqualFold(rc.addr, del) && !strings.EqualFold(rc.given, del) {
				kept = append(kept, rc)
			}
		}
		s.rcpts = kept
	}
	for _, add := range v.AddRcpts {
		addr, err := address.Normalize(add)
		if err != nil {
			s.log.Warn("filter added a bad recipient, ignored", "queue_id", qid, "to", add)
			continue
		}
		res, err := s.srv.store.Resolve(s.ctx, addr, s.srv.cfg.RecipientDelimiter)
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrDisabled):
			s.log.Warn("filter added an unknown recipient, ignored", "queue_id", qid, "to", addr)
			continue
		case err != nil:
			return s.temp("DATA", err, "queue_id", qid)
		}
		s.rcpts = append(s.rcpts, rcpt{given: add, addr: addr, res: res})
	}
	if v.ChangeFrom {
		s.from = v.From
	}
	if len(s.rcpts) == 0 {
		s.log.Info("discarded", "queue_id", qid, "from", s.from, "reason", "the filter left no recipient")
		return smtpErr(250, smtp.EnhancedCode{2, 0, 0}, "Ok: queued as %s", qid)
	}
	return nil
}

// logFilter writes the mail log line of the stage's verdict.
func (s *session) logFilter(qid string, v *contentfilter.Verdict) {
	verdict := strings.ToLower(string(v.Verb))
	if verdict == "" {
		verdict = "pass"
	}
	attrs := []any{"queue_id", qid, "verdict", verdict}
	if v.Reason != "" {
		attrs = append(attrs, "reason", v.Reason)
	}
	if v.HasScore {
		attrs = append(attrs, "score", v.Score)
	}
	if v.Spam {
		attrs = append(attrs, "spam", true)
	}
	if v.Virus != "" {
		attrs = append(attrs, "virus", v.Virus)
	}
	if len(v.Warnings) > 0 {
		attrs = append(attrs, "warnings", v.Warnings)
	}
	s.log.Info("filter", attrs...)
}
