package mta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"mailhost/address"
	"mailhost/auth"
	"mailhost/connctx"
	"mailhost/mailheader"
	"mailhost/mda"
	smtp "mailhost/smtpd"
	"mailhost/srs"
	"mailhost/store"
)

// dbTimeout bounds a queue worker's database work (a local delivery, the
// results of an attempt); sessions use their command contexts instead.
const dbTimeout = 60 * time.Second

// session is one SMTP session (one per EHLO after STARTTLS).
type session struct {
	srv  *Server
	conn *smtp.Conn
	cc   *clientConn
	// ctx is the running command's context while a command runs (begin),
	// else the connection's. smtpd runs a session's commands one at a
	// time.
	ctx  context.Context
	log  *slog.Logger
	acct *auth.Account // the logged-in user (submission), nil before AUTH

	// The current transaction.
	hasFrom bool
	// mailArg is the sender the last MAIL command gave, for the log line
	// of its refusal (from is set only once MAIL is accepted).
	mailArg string
	from    string // as given, "" for <>
	fromN   string // normalised, for rules
	opts    smtp.MailOptions
	rules   store.SessionRules
	permit  bool      // an access rule said OK or DISCARD: later access checks are skipped
	discard string    // why the message is discarded, if it is
	hold    string    // why the message goes on hold, if it does
	spf     *spfCheck // of the reverse-path, when the inbound checks apply (inbound.go)
	rcpts   []rcpt
}

type rcpt struct {
	given string // as given in RCPT TO
	addr  string // normalised
	res   store.Resolution
	dsn   rcptDSN // NOTIFY and ORCPT (dsnparams.go)
	// junk, when set, says why this recipient's mailboxes get the
	// message in their \Junk folder: spam (the content filter), dmarc
	// quarantine, an undecided spoof check (store.LocalTarget.InJunk).
	junk string
}

func smtpErr(code int, ec smtp.EnhancedCode, format string, a ...any) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: fmt.Sprintf(format, a...)}
}

var (
	errTemp     = smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "Temporary failure, please try again later")
	errShutdown = smtpErr(421, smtp.EnhancedCode{4, 3, 2}, "Service shutting down, try again later")
)

// begin makes cmd the running command: s.ctx is its context until the
// returned function ends it. MAIL, RCPT and AUTH run as
// s.cc.ctx.Command() (a deadline, cancelled when the client hangs up or
// the server shuts down); DATA as Finishing, since a message received
// before a shutdown is delivered (ARCHITECTURE.md, "Contexts": a DATA
// already received finishes at shutdown).
func (s *session) begin(cmd *connctx.Command) (end func()) {
	s.ctx = cmd.Context()
	return func() {
		cmd.End()
		s.ctx = s.cc.ctx.Context()
	}
}

// reject logs and counts a refusal and returns the reply; past the error
// limit the reply becomes a 421 and the connection closes after it
// (Postfix smtpd_hard_error_limit).
func (s *session) reject(stage, reason string, e *smtp.SMTPError, attrs ...any) error {
	s.srv.metrics.Rejected.WithLabelValues(reason).Inc()
	from := s.from
	if !s.hasFrom {
		from = s.mailArg // a refused MAIL: the sender it tried
	}
	args := []any{"stage", stage, "reason", reason, "code", e.Code, "reply", e.Message,
		"helo", s.conn.Hostname(), "from", from}
	s.log.Info("reject", append(args, attrs...)...)
	return s.srv.countError(s.cc, e)
}

// temp logs an internal error, never shown to the client, and answers 451;
// a command cut short by a shutdown gets 421 and the connection closes.
func (s *session) temp(stage string, err error, attrs ...any) error {
	if s.ctx.Err() != nil {
		cause := context.Cause(s.ctx)
		switch {
		case s.srv.closing.Load():
			s.cc.closeAfterReply.Store(true)
			s.log.Info("command cancelled by shutdown", append([]any{"stage", stage}, attrs...)...)
			return errShutdown
		case errors.Is(cause, connctx.ErrHangup):
			s.log.Info("lost connection during "+stage, attrs...)
			return errTemp
		}
		err = fmt.Errorf("%w (%w)", err, cause)
	}
	s.srv.metrics.Rejected.WithLabelValues("temporary_failure").Inc()
	s.log.Error("temporary failure", append([]any{"stage", stage, "err", err}, attrs...)...)
	return errTemp
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	s.resetTransaction()
	s.mailArg = from
	if s.srv.closing.Load() {
		s.cc.closeAfterReply.Store(true)
		return errShutdown
	}
	if opts == nil {
		opts = &smtp.MailOptions{}
	}
	if e := checkMailDSN(opts); e != nil { // dsnparams.go
		return s.reject("MAIL", "bad_dsn_parameter", e)
	}
	if !opts.UTF8 && !isASCII(from) {
		// RFC 6531 3.4: non-ASCII addresses need SMTPUTF8.
		return s.reject("MAIL", "smtputf8_required", smtpErr(553, smtp.EnhancedCode{5, 6, 7},
			"<%s>: Sender address rejected: non-ASCII address without SMTPUTF8", from))
	}
	fromN := ""
	if from != "" {
		n, err := address.Normalize(from)
		if err != nil || !utf8.ValidString(from) {
			return s.reject("MAIL", "bad_sender_syntax", smtpErr(501, smtp.EnhancedCode{5, 1, 7},
				"Bad sender address syntax"))
		}
		fromN = n
	}
	defer s.begin(s.cc.ctx.Command())()
	if s.srv.cfg.Submission.Enabled {
		if err := s.submissionMail(fromN); err != nil {
			return err
		}
	}
	ctx := s.ctx
	kinds, err := s.srv.ruleKinds(ctx)
	if err != nil {
		return s.temp("MAIL", err)
	}
	var rules store.SessionRules
	if kinds["client"] || kinds["helo"] || kinds["sender"] {
		if rules, err = s.srv.store.SessionRules(ctx, s.cc.ip, s.conn.Hostname(), fromN); err != nil {
			return s.temp("MAIL", err)
		}
	}
	rules.HasRecipientRules = kinds["recipient"]
	ac, err := s.sessionRules(rules, from) // policy.go
	if err != nil {
		return err
	}
	if !s.cc.trusted && !ac.permit && s.acct == nil && len(s.srv.cfg.DNSBL) > 0 {
		s.cc.dnsblOnce.Do(func() { s.cc.dnsbl = s.srv.checkDNSBL(ctx, s.cc) })
		if zone := s.cc.dnsbl; zone != "" {
			switch s.srv.cfg.DNSBLAction {
			case "reject":
				return s.reject("MAIL", "dnsbl", smtpErr(554, smtp.EnhancedCode{5, 7, 1},
					"Service unavailable; Client host [%s] blocked using %s", s.cc.ip, zone))
			case "defer":
				return s.reject("MAIL", "dnsbl", smtpErr(450, smtp.EnhancedCode{4, 7, 1},
					"Service unavailable; Client host [%s] blocked using %s", s.cc.ip, zone))
			default:
				s.log.Warn("dnsbl listed (log only)", "zone", zone)
			}
		}
	}
	var spfRes *spfCheck
	if s.checksApply() {
		if spfRes, err = s.inboundMail(ctx, fromN, ac.permit); err != nil {
			return err
		}
	}
	s.hasFrom, s.from, s.fromN, s.opts, s.rules, s.spf = true, from, fromN, *opts, rules, spfRes
	s.permit, s.discard, s.hold = ac.permit, ac.discard, ac.hold
	return nil
}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.srv.closing.Load() {
		s.cc.closeAfterReply.Store(true)
		return errShutdown
	}
	if opts == nil {
		opts = &smtp.RcptOptions{}
	}
	if !s.opts.UTF8 && !isASCII(to) {
		return s.reject("RCPT", "smtputf8_required", smtpErr(553, smtp.EnhancedCode{5, 6, 7},
			"<%s>: Recipient address rejected: non-ASCII address without SMTPUTF8", to), "to", to)
	}
	dsn, e := rcptDSNOf(opts) // dsnparams.go
	if e != nil {
		return s.reject("RCPT", "bad_dsn_parameter", e, "to", to)
	}
	defer s.begin(s.cc.ctx.Command())()
	if s.srv.cfg.SRS != nil && srs.IsSRS(to) {
		if res, addr, handled, err := s.srsRecipient(to); handled { // srs.go
			if err != nil {
				return err
			}
			return s.acceptRcpt(to, addr, res, dsn)
		}
	}
	bare := isBarePostmaster(to)
	addr, err := address.Normalize(to)
	if !bare && (err != nil || !utf8.ValidString(to)) {
		// Relay tricks end here too: "user@remote@local", source routes
		// with a second "@", domain literals.
		return s.reject("RCPT", "bad_recipient_syntax", smtpErr(501, smtp.EnhancedCode{5, 1, 3},
			"<%s>: Bad recipient address syntax", to), "to", to)
	}
	ctx := s.ctx
	var res store.Resolution
	if bare {
		addr, res, err = s.resolvePostmaster() // envelope.go
	} else if s.acct == nil {
		if e := s.routingRefused(to, addr, false); e != nil {
			return e
		}
	}
	ac, aerr := s.recipientRule(ctx, to, addr) // policy.go
	if aerr != nil {
		return aerr
	}
	if !bare {
		res, err = s.srv.store.Resolve(ctx, addr, s.srv.cfg.RecipientDelimiter)
		if s.acct != nil && resolved(err) {
			if e := s.routingRefused(to, addr, err == nil && res.Foreign); e != nil {
				return e
			}
		}
	}
	var moved *store.RelocatedError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s.reject("RCPT", "unknown_user", smtpErr(550, smtp.EnhancedCode{5, 1, 1},
			"<%s>: Recipient address rejected: User unknown", to), "to", addr)
	case errors.Is(err, store.ErrDisabled):
		return s.reject("RCPT", "disabled", smtpErr(550, smtp.EnhancedCode{5, 2, 1},
			"<%s>: Recipient address rejected: Mailbox disabled", to), "to", addr)
	case errors.As(err, &moved):
		return s.reject("RCPT", "relocated", smtpErr(551, smtp.EnhancedCode{5, 1, 6},
			"<%s>: Recipient address rejected: User has moved to %s", to, moved.NewAddress), "to", addr)
	case err != nil:
		return s.temp("RCPT", err, "to", addr)
	}
	if err := s.acceptRcpt(to, addr, res, dsn); err != nil {
		return err
	}
	s.recipientAccepted(ac) // policy.go
	return nil
}

// acceptRcpt ends RCPT for a resolved recipient: the relay and quota
// checks, then the recipient joins the transaction.
func (s *session) acceptRcpt(to, addr string, res store.Resolution, dsn rcptDSN) error {
	if res.Foreign && !s.cc.trusted && s.acct == nil {
		// Never an open relay: only mynetworks may send to domains that are
		// neither hosted nor relayed here (authenticated submission is the
		// submission listener's business).
		return s.reject("RCPT", "relay_denied", smtpErr(554, smtp.EnhancedCode{5, 7, 1},
			"<%s>: Relay access denied", to), "to", addr)
	}
	if e := s.quotaCheck(res); e != nil {
		return s.reject("RCPT", "quota", e, "to", addr)
	}
	if e := s.spfRcpt(s.ctx, to, addr); e != nil { // inbound.go
		return e
	}
	for _, sk := range res.Skipped {
		s.log.Warn("alias destination skipped", "to", addr, "destination", sk)
	}
	s.rcpts = append(s.rcpts, rcpt{given: to, addr: addr, res: res, dsn: dsn})
	return nil
}

// quotaCheck refuses a recipient whose only mailbox is full (452 4.2.2),
// or whose quota can never hold the declared SIZE (552 5.2.2).
func (s *session) quotaCheck(res store.Resolution) *smtp.SMTPError {
	if len(res.Remote) > 0 || len(res.Local) == 0 {
		return nil
	}
	full := 0
	for _, t := range res.Local {
		if t.QuotaBytes == 0 {
			return nil
		}
		if s.opts.Size > t.QuotaBytes && len(res.Local) == 1 {
			return smtpErr(552, smtp.EnhancedCode{5, 2, 2},
				"<%s>: Recipient address rejected: Mailbox full (message larger than the mailbox quota)", res.Address)
		}
		if t.UsedBytes >= t.QuotaBytes || s.opts.Size > 0 && t.UsedBytes+s.opts.Size > t.QuotaBytes {
			full++
		}
	}
	if full == len(res.Local) {
		return smtpErr(452, smtp.EnhancedCode{4, 2, 2}, "<%s>: Recipient address rejected: Mailbox full", res.Address)
	}
	return nil
}

// Reset ends the transaction: RSET, the end of DATA, and a HELO/EHLO
// repeated in the session, whose new name Hello checks (envelope.go).
func (s *session) Reset() { s.resetTransaction() }

func (s *session) resetTransaction() {
	s.hasFrom, s.from, s.fromN, s.discard, s.hold, s.permit = false, "", "", "", "", false
	s.opts = smtp.MailOptions{}
	s.rules = store.SessionRules{}
	s.spf.stop()
	s.spf = nil
	s.rcpts = nil
}

func (s *session) Logout() error {
	s.spf.stop()
	return nil
}

func (s *session) Data(r io.Reader) error {
	s.cc.busy.Store(true)
	defer s.cc.busy.Store(false)
	start := time.Now()
	var buf bytes.Buffer
	if s.opts.Size > 0 && s.opts.Size <= s.srv.cfg.MaxMessageBytes {
		buf.Grow(int(s.opts.Size) + 512)
	}
	_, err := buf.ReadFrom(r)
	switch {
	case errors.Is(err, smtp.ErrDataTooLarge):
		return s.reject("DATA", "size", smtp.ErrSizeExceeded, "rcpts", len(s.rcpts), "limit", s.srv.cfg.MaxMessageBytes)
	case errors.Is(err, smtp.ErrTooLongLine):
		s.cc.closeAfterReply.Store(true)
		return s.reject("DATA", "line_too_long", smtp.ErrLineTooLong, "limit", s.srv.cfg.MaxLineLength)
	case err != nil:
		s.srv.metrics.Rejected.WithLabelValues("lost_connection").Inc()
		s.log.Info("lost connection during DATA, nothing delivered", "from", s.from, "rcpts", len(s.rcpts),
			"received", buf.Len(), "err", err)
		return errTemp
	}
	defer s.begin(s.cc.ctx.Finishing())()
	body := buf.Bytes()
	if e := checkBody(body); e != nil {
		return s.reject("DATA", "bad_data", e, "size", len(body))
	}
	h := mailheader.Parse(body)
	if n := h.FieldsByKey("Received").Len(); n > s.srv.cfg.MaxReceived {
		return s.reject("DATA", "loop", smtpErr(554, smtp.EnhancedCode{5, 4, 6},
			"Too many hops (%d Received headers): mail forwarding loop", n))
	}
	for _, rc := range s.rcpts {
		for _, t := range rc.res.Local {
			if deliveredTo(&h, t.Address) {
				return s.reject("DATA", "loop", smtpErr(554, smtp.EnhancedCode{5, 4, 6},
					"Mail forwarding loop for <%s>", t.Address))
			}
		}
	}
	var authRes []byte
	switch {
	case s.checksApply():
		a, e := s.inboundData(s.ctx, body, &h) // inbound.go
		if e != nil {
			return e
		}
		authRes, body = a.header, a.body
	case s.srv.cfg.Inbound != nil:
		body = s.stripForged(body)
	}
	addFrom := ""
	if s.acct != nil {
		if addFrom, err = s.submissionFrom(&h); err != nil {
			return err
		}
	}
	qid := store.NewQueueID()
	if s.discard != "" {
		s.log.Info("discarded", "queue_id", qid, "from", s.from, "rcpts", s.rcptList(), "size", len(body),
			"rule", s.discard)
		s.srv.metrics.Accepted.Inc()
		return smtpErr(250, smtp.EnhancedCode{2, 0, 0}, "Ok: queued as %s", qid) // as Postfix: the sender cannot tell
	}
	tlsInfo := ""
	if st, ok := s.conn.TLSConnectionState(); ok {
		tlsInfo = tlsDescription(st)
	}
	header := cleanupHeader(cleanupInput{
		hostname: s.srv.cfg.Hostname, helo: s.conn.Hostname(), ip: s.cc.ip.String(), tls: tlsInfo,
		utf8: s.opts.UTF8, qid: qid, rcpts: s.rcpts, now: time.Now(), h: &h,
		auth: s.acct != nil, hideClient: s.acct != nil && !s.srv.cfg.Submission.ReceivedClientIP, addFrom: addFrom,
		rdns: s.rdns(), authResults: authRes,
	})
	if s.srv.cfg.Filter != nil { // the content filter stage: filter.go
		var done bool
		if header, body, done, err = s.runFilter(header, body, qid); done {
			return err
		}
	}
	if s.hold != "" {
		return s.queueHeld(header, body, qid) // policy.go
	}
	fwdFrom, err := s.forwardSender() // srs.go
	if err != nil {
		return s.temp("DATA", err, "queue_id", qid)
	}
	locals, queue := s.plan(body, header, fwdFrom)
	for i := range queue {
		queue[i].QueueID = qid // copies of the message keep its id
	}
	signQueued(s.ctx, s.srv.cfg.DKIM, s.log, queue)
	var handoffs []*store.QueueHandoff
	if s.srv.cfg.Handoff != nil {
		handoffs = s.srv.cfg.Handoff.reserveHandoffs(queue) // outhandoff.go
	}
	var bounced []store.QueuedMessage
	res, err := s.srv.agent.Deliver(s.ctx, mda.Message{Header: header, Body: body, QueueID: qid}, locals, queue,
		func(refused []mda.Outcome) []store.QueuedMessage {
			bounced = s.bounces(refused, header, body, qid)
			signQueued(s.ctx, s.srv.cfg.DKIM, s.log, bounced)
			return bounced
		})
	if err != nil && s.srv.cfg.Handoff != nil {
		s.srv.cfg.Handoff.handOff(handoffs, false) // nothing committed: the workers stay idle
	}
	if errors.Is(err, mda.ErrOverQuota) {
		return s.reject("DATA", "quota", smtpErr(552, smtp.EnhancedCode{5, 2, 2},
			"Mailbox full: message exceeds the recipient's quota"), "queue_id", qid, "size", len(body))
	}
	if err != nil {
		return s.temp("DATA", err, "queue_id", qid, "size", len(body))
	}
	size := int64(len(header) + len(body))
	s.srv.metrics.Accepted.Inc()
	s.srv.metrics.Bytes.Add(float64(size))
	s.srv.metrics.DeliveryLatency.Observe(time.Since(start).Seconds())
	s.log.Info("accepted", "queue_id", qid, "from", s.from, "helo", s.conn.Hostname(), "rcpts", s.rcptList(),
		"message_id", strings.TrimSpace(h.Get("Message-Id")), "size", size, "tls", tlsInfo != "",
		"took", time.Since(start).Round(time.Microsecond))
	s.logOutcomes(qid, res.Outcomes)
	for _, b := range bounced {
		s.log.Info("sender notified", "queue_id", qid, "notice_id", b.QueueID, "to", s.from, "kind", "failure")
	}
	s.queueSuccessDSNs(header, body, qid, res.Outcomes)
	for i, q := range queue {
		if i < len(res.QueueIDs) {
			s.log.Info("queued", "queue_id", qid, "queue_row", res.QueueIDs[i], "origin", q.Origin,
				"to", recipientList(q.Recipients))
		}
	}
	handed := 0
	if s.srv.cfg.Handoff != nil { // after the queued lines: the workers log what follows
		handed = s.srv.cfg.Handoff.handOff(handoffs, true)
	}
	if len(res.QueueIDs) > handed && s.srv.cfg.Queued != nil {
		s.srv.cfg.Queued()
	}
	s.vacations(qid, res.Outcomes, &h)
	// A 250 carrying the queue id, as Postfix answers, for the sender's logs.
	return smtpErr(250, smtp.EnhancedCode{2, 0, 0}, "Ok: queued as %s", qid)
}

// logOutcomes writes the mail log line of each local copy. A copy whose
// folder vanished during delivery went to INBOX (wanted_folder says where
// it was meant to go); one that could not be indexed after the commit is
// durable and waits for adoption (a warning: the message is accepted).
func (s *session) logOutcomes(qid string, outs []mda.Outcome) {
	for _, o := range outs {
		t := o.Recipient.Target
		if o.OverQuota {
			s.log.Info("bounced", "queue_id", qid, "to", t.Address, "status", "5.2.2", "reason", "mailbox full")
			continue
		}
		attrs := []any{"queue_id", qid, "to", t.Address, "folder", t.Folder, "uid", o.UID, "size", o.Size}
		if o.WantedFolder != "" {
			attrs = append(attrs, "wanted_folder", o.WantedFolder)
		}
		if o.Err != nil {
			attrs = append(attrs, "err", o.Err)
			s.log.Warn("delivered, not indexed yet", attrs...)
			continue
		}
		s.log.Info("delivered", attrs...)
	}
}

func (s *session) rcptList() []string {
	out := make([]string, len(s.rcpts))
	for i, r := range s.rcpts {
		out[i] = r.addr
	}
	return out
}

func recipientList(rs []store.QueuedRecipient) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Address
	}
	return out
}

// plan turns the accepted recipients into local deliveries (one per
// mailbox, whatever the number of addresses leading to it) and queue
// messages (one per origin, each remote address once). Forwarded copies
// go out from fwdFrom (the SRS form of the sender, srs.go) and carry the
// DSN parameters RFC 3461 6.2.7 gives them (dsnparams.go).
func (s *session) plan(body, header []byte, fwdFrom string) ([]mda.Recipient, []store.QueuedMessage) {
	var locals []mda.Recipient
	seenBox := map[int64]bool{}
	seenRemote := map[string]bool{}
	byOrigin := map[string]*store.QueuedMessage{}
	var order []string
	retPath := []byte("Return-Path: <" + s.from + ">\r\n")
	for _, rc := range s.rcpts {
		for _, t := range rc.res.Local {
			if seenBox[t.MailboxID] {
				continue
			}
			seenBox[t.MailboxID] = true
			// Spam honours a folder the recipient named (alice+news@),
			// as the user's filters will; a DMARC quarantine does not.
			junk := rc.junk != "" && (rc.junk != "spam" || t.Folder == "INBOX")
			if junk {
				t = t.InJunk() // the \Junk special-use folder; else mda's Junk by name
				s.log.Info("filed into Junk", "to", t.Address, "folder", t.Folder, "reason", rc.junk)
			}
			hdr := make([]byte, 0, len(retPath)+len(t.Address)+20)
			hdr = append(hdr, retPath...)
			hdr = append(hdr, "Delivered-To: "+t.Address+"\r\n"...)
			locals = append(locals, mda.Recipient{Target: t, Header: hdr, Junk: junk && t.Folder == "INBOX", From: s.from, To: rc.addr})
		}
		for _, t := range rc.res.Remote {
			if seenRemote[t.Address] {
				continue
			}
			seenRemote[t.Address] = true
			origin := "forward"
			if t.Relay {
				origin = "smtp" // a relay domain: we are its backup MX
				if rc.res.Foreign {
					origin = "relay" // a mynetworks client relaying out
				}
			}
			if s.acct != nil {
				origin = "submission"
			}
			m := byOrigin[origin]
			if m == nil {
				full := make([]byte, 0, len(header)+len(body))
				full = append(append(full, header...), body...)
				m = &store.QueuedMessage{Sender: s.from, Origin: origin, ClientAddr: s.cc.ip.String(),
					Helo: s.conn.Hostname(), AuthUser: s.authUser(), EnvID: s.opts.EnvelopeID, Ret: string(s.opts.Return), Body: full}
				if origin == "forward" {
					m.Sender = fwdFrom
				}
				byOrigin[origin] = m
				order = append(order, origin)
			}
			_, pass := forwardedDSN(rc.res, rc.given, rc.dsn)
			m.Recipients = append(m.Recipients, store.QueuedRecipient{Address: t.Address, Domain: t.Domain, NextHop: t.NextHop,
				OrigRecipient: pass.orcpt, OrigRecipientType: pass.orcptType, Notify: pass.notify})
		}
	}
	var queue []store.QueuedMessage
	for _, o := range order {
		queue = append(queue, *byOrigin[o])
	}
	return locals, queue
}

// bounces builds the DSN for recipients refused for quota when others got
// the message (SMTP has one DATA reply for all).
func (s *session) bounces(refused []mda.Outcome, header, body []byte, qid string) []store.QueuedMessage {
	orig := make([]byte, 0, len(header)+len(body))
	orig = append(append(orig, header...), body...)
	return quotaBounce(DSN{ReportingMTA: s.srv.cfg.Hostname, Sender: s.from, EnvID: s.opts.EnvelopeID, QueueID: qid,
		Original: orig, HeadersOnly: s.opts.Return == smtp.DSNReturnHeaders}, refused)
}

// quotaBounce is the DSN that returns a message to its sender for the
// copies refused for quota while others were delivered; none for the null
// sender (never bounce a bounce: RFC 3464 2, RFC 5321 6.1).
func quotaBounce(d DSN, refused []mda.Outcome) []store.QueuedMessage {
	if d.Sender == "" {
		return nil
	}
	d.Now = time.Now()
	d.Arrival, d.Recipients = d.Now, quotaDSNRecipients(refused)
	return []store.QueuedMessage{noticeTo(d.Sender, BuildDSN(d))}
}
