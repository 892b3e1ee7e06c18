package mta

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"mailhost/address"
	"mailhost/mailheader"
	"mailhost/senderauth"
	smtp "mailhost/smtpd"
	"mailhost/store"
)

// Inbound is the sender authentication of the MX listener: SPF started at
// MAIL (it runs while the client sends RCPT and DATA), iprev once per
// connection, DKIM and DMARC at the end of DATA, one
// Authentication-Results field on every message, and what the recipient
// domain's inbound policy (store.InboundPolicy) makes of the results. It
// never applies to a client in mynetworks or to a logged-in one
// (submission); after an access rule said OK the results are recorded
// and no policy is applied, as Postfix's milters still add their
// headers behind a permit.
type Inbound struct {
	Checker *senderauth.Checker
	// AuthServID names this server in Authentication-Results (RFC 8601
	// 2.5); fields claiming it that arrive with a message are removed.
	AuthServID string
	// RejectNoPTR refuses clients without forward-confirmed reverse DNS
	// at MAIL: 550 5.7.25, or 450 4.7.25 when the lookup failed for now
	// (RFC 7372 3.3; Postfix reject_unknown_client_hostname).
	RejectNoPTR bool
	// DeferTempError answers 451 4.4.3 when a temporary DNS failure leaves
	// a check undecided that a policy would act on (RFC 7208 8.6; RFC
	// 7489 6.6.3 leaves it to the receiver). Off, the message goes on as
	// if that check had not been made, marked temperror.
	DeferTempError bool
	// PolicyTTL is how long a domain's inbound policy read from the
	// database (or the fact that a name is no domain of ours) is trusted,
	// so that the messages of a burst do not each ask; a change made in
	// the panel applies within it. 0 reads the policies for every message.
	PolicyTTL time.Duration

	polMu sync.Mutex
	pols  map[string]cachedPolicy
}

// DefaultPolicyTTL is the PolicyTTL of serve: as long as the MX trusts its
// knowledge of the access rule kinds (server.go).
const DefaultPolicyTTL = 2 * time.Second

// policyCacheMax bounds the names whose policy is kept (MAIL FROM and
// From: domains are the client's choice); a full cache starts afresh.
const policyCacheMax = 10000

type cachedPolicy struct {
	p    store.HostedPolicy
	ours bool // a domain of this server (else p is empty)
	at   time.Time
}

// policies is HostedPolicies.InboundPolicies through the cache: one query
// for the names not known for PolicyTTL, none when every name is.
func (in *Inbound) policies(ctx context.Context, st HostedPolicies, names []string) (map[string]store.HostedPolicy, error) {
	if in.PolicyTTL <= 0 {
		return st.InboundPolicies(ctx, names)
	}
	now := time.Now()
	out := map[string]store.HostedPolicy{}
	var missing []string
	in.polMu.Lock()
	for _, n := range names {
		e, ok := in.pols[n]
		switch {
		case ok && now.Sub(e.at) < in.PolicyTTL:
			if e.ours {
				out[n] = e.p
			}
		case !slices.Contains(missing, n):
			missing = append(missing, n)
		}
	}
	in.polMu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	got, err := st.InboundPolicies(ctx, missing)
	if err != nil {
		return nil, err
	}
	in.polMu.Lock()
	defer in.polMu.Unlock()
	if in.pols == nil || len(in.pols)+len(missing) > policyCacheMax {
		in.pols = map[string]cachedPolicy{}
	}
	for _, n := range missing {
		p, ok := got[n]
		in.pols[n] = cachedPolicy{p: p, ours: ok, at: now}
		if ok {
			out[n] = p
		}
	}
	return out, nil
}

// spfCheck is the SPF check of one transaction, started at MAIL FROM: it
// needs only the client's address, the HELO name and the sender, so its
// lookups overlap the client's RCPT and DATA.
type spfCheck struct {
	done   chan struct{}
	res    senderauth.SPF
	cancel context.CancelFunc
}

// startSPF starts the SPF check under a context of the connection's (a
// command's ends with its reply) that the transaction's end cancels, so
// a client repeating MAIL and RSET runs one check at a time.
func (s *session) startSPF(fromN string) *spfCheck {
	ctx, cancel := context.WithCancel(s.cc.ctx.Context())
	c := &spfCheck{done: make(chan struct{}), cancel: cancel}
	checker, ip, helo := s.srv.cfg.Inbound.Checker, s.cc.ip, s.conn.Hostname()
	go func() {
		defer close(c.done)
		c.res = checker.SPF(ctx, ip, helo, fromN)
	}()
	return c
}

// stop cancels the check's lookups if they still run (nil: no check).
func (c *spfCheck) stop() {
	if c != nil {
		c.cancel()
	}
}

// result waits for the check while ctx lasts (temperror when it ends
// first). A nil check (the checks did not apply) is no result.
func (c *spfCheck) result(ctx context.Context) senderauth.SPF {
	if c == nil {
		return senderauth.SPF{}
	}
	select {
	case <-c.done:
		return c.res
	case <-ctx.Done():
		return senderauth.SPF{Result: senderauth.TempError, Err: ctx.Err()}
	}
}

// HostedPolicies is what the checks need from the database: the inbound
// policies of the names of a message that are domains of this server.
type HostedPolicies interface {
	InboundPolicies(ctx context.Context, names []string) (map[string]store.HostedPolicy, error)
}

var errSenderTemp = smtpErr(451, smtp.EnhancedCode{4, 4, 3},
	"Temporary DNS failure checking the sender, please try again later")

// checksApply says whether this transaction gets the inbound checks.
func (s *session) checksApply() bool {
	return s.srv.cfg.Inbound != nil && !s.cc.trusted && s.acct == nil && !s.srv.cfg.Submission.Enabled
}

// inboundMail runs the MAIL-time checks: the client's reverse DNS (once
// per connection), and starts SPF of the reverse-path (RFC 7208 2.4: MAIL
// FROM, or the HELO name for the null sender).
func (s *session) inboundMail(ctx context.Context, fromN string, permit bool) (*spfCheck, error) {
	in := s.srv.cfg.Inbound
	s.cc.iprevOnce.Do(func() { s.cc.iprev = in.Checker.IPRev(ctx, s.cc.ip) })
	if in.RejectNoPTR && !permit {
		switch s.cc.iprev.Result {
		case senderauth.Fail:
			return nil, s.reject("MAIL", "no_ptr", smtpErr(550, smtp.EnhancedCode{5, 7, 25},
				"Client host rejected: cannot find your reverse hostname, [%s]", s.cc.ip))
		case senderauth.TempError:
			return nil, s.reject("MAIL", "no_ptr", smtpErr(450, smtp.EnhancedCode{4, 7, 25},
				"Client host rejected: cannot find your reverse hostname, [%s]", s.cc.ip))
		}
	}
	return s.startSPF(fromN), nil
}

// spfRcpt applies the recipient domain's SPF policy at RCPT: an SPF fail
// is refused there for a domain that says reject (550 5.7.23, RFC 7208
// 8.4, RFC 7372 3.2), a temperror deferred when so configured. Only then
// does RCPT wait for the SPF check; otherwise DATA does.
func (s *session) spfRcpt(ctx context.Context, to, addr string) error {
	if !s.checksApply() || s.permit {
		return nil
	}
	_, dom := address.Split(addr)
	pols, err := s.srv.cfg.Inbound.policies(ctx, s.srv.store, []string{dom})
	if err != nil {
		return s.temp("RCPT", err, "to", addr)
	}
	if p, ok := pols[dom]; !ok || p.SPFFail != "reject" {
		return nil
	}
	switch spf := s.spf.result(ctx); {
	case spf.Result == senderauth.TempError && s.srv.cfg.Inbound.DeferTempError:
		return s.reject("RCPT", "spf_temperror", errSenderTemp, "to", addr)
	case spf.Result == senderauth.Fail:
		return s.reject("RCPT", "spf_fail", smtpErr(550, smtp.EnhancedCode{5, 7, 23},
			"<%s>: Recipient address rejected: SPF check failed: %s is not allowed to send mail for %s",
			to, s.cc.ip, spf.Domain), "to", addr)
	}
	return nil
}

// authenticated is the outcome of the end-of-DATA checks.
type authenticated struct {
	header []byte // the Authentication-Results field, prepended
	body   []byte // the message without forged Authentication-Results
}

// inboundData runs DKIM and DMARC on the message as received (the DKIM
// keys and the DMARC records looked up at once, SPF's result awaited),
// builds the Authentication-Results field, removes forged ones, and
// applies the policies: a spoofed domain of ours is refused, DMARC
// p=reject refused (when every recipient's domain enforces it),
// p=quarantine filed into Junk. It marks the recipients to file into Junk
// (rcpt.junk).
func (s *session) inboundData(ctx context.Context, body []byte, h *mailheader.Header) (authenticated, error) {
	in := s.srv.cfg.Inbound
	from := authorDomains(h)
	sigs, spfRes, dm := in.Checker.Authenticate(ctx, body, from, func() senderauth.SPF { return s.spf.result(ctx) })
	iprev := s.cc.iprev
	out := authenticated{header: senderauth.Header(in.AuthServID, senderauth.Results{
		IPRev: &iprev, SPF: &spfRes, DKIM: sigs, DMARC: &dm})}
	out.body = s.stripForged(body)
	if s.permit || dm.Result == senderauth.Pass && spfRes.Result == senderauth.Pass {
		return out, nil
	}
	_, mailDomain := address.Split(s.fromN)
	names := append(append([]string{}, from...), s.rcptDomains()...)
	if mailDomain != "" {
		names = append(names, mailDomain)
	}
	pols, err := in.policies(ctx, s.srv.store, names)
	if err != nil {
		return out, s.temp("DATA", err)
	}
	if e := s.spoofCheck(pols, append(from, mailDomain), spfRes, sigs); e != nil {
		return out, e
	}
	return out, s.dmarcPolicy(pols, dm)
}

// stripForged removes the Authentication-Results fields claiming our
// authserv-id, from every client: mynetworks and logged-in users too
// could otherwise hand local recipients results we never found (RFC 8601
// 5).
func (s *session) stripForged(body []byte) []byte {
	out, n := senderauth.StripForged(body, s.srv.cfg.Inbound.AuthServID)
	if n > 0 {
		s.log.Warn("removed forged Authentication-Results", "count", n, "from", s.from)
	}
	return out
}

// spoofCheck refuses mail whose From or MAIL FROM domain is a local domain
// of this server that asks for it (reject_spoofed), when neither a valid
// DKIM signature nor SPF pass is aligned with it (relaxed, as DMARC).
// Undecided for a temporary DNS failure: deferred when so configured,
// else filed into Junk rather than trusted.
func (s *session) spoofCheck(pols map[string]store.HostedPolicy, domains []string, spfRes senderauth.SPF, sigs []senderauth.DKIM) error {
	for _, d := range domains {
		p, ok := pols[d]
		if !ok || p.Kind != "local" || !p.RejectSpoofed {
			continue
		}
		if senderauth.Authenticates(d, spfRes, sigs) {
			continue
		}
		if senderauth.TempFailed(spfRes, sigs) {
			if s.srv.cfg.Inbound.DeferTempError {
				return s.reject("DATA", "spoofed_temperror", errSenderTemp, "domain", d)
			}
			s.junkAll("unauthenticated sender of a local domain " + d + " (temperror)")
			continue
		}
		return s.reject("DATA", "spoofed", smtpErr(550, smtp.EnhancedCode{5, 7, 1},
			"Message rejected: %s is a domain of this server and the message is not authenticated (no aligned DKIM signature, no SPF pass)", d))
	}
	return nil
}

// dmarcPolicy applies a DMARC fail: each recipient whose domain enforces
// DMARC gets what the author domain asks. SMTP has one reply for all
// recipients after DATA, so the message is refused only when every
// recipient wants it refused; the others' copies are delivered, and those
// that wanted a refusal get theirs in Junk.
func (s *session) dmarcPolicy(pols map[string]store.HostedPolicy, dm senderauth.DMARC) error {
	enforced := func(i int) bool {
		_, dom := address.Split(s.rcpts[i].addr)
		p, ok := pols[dom]
		return !ok || p.DMARC == "enforce"
	}
	switch {
	case dm.Result == senderauth.TempError && s.srv.cfg.Inbound.DeferTempError:
		for i := range s.rcpts {
			if enforced(i) {
				return s.reject("DATA", "dmarc_temperror", errSenderTemp, "domain", dm.Domain)
			}
		}
		return nil
	case dm.Result != senderauth.Fail || dm.Policy == "none":
		return nil
	}
	all := true
	for i := range s.rcpts {
		all = all && enforced(i)
	}
	if all && dm.Policy == "reject" {
		return s.reject("DATA", "dmarc", smtpErr(550, smtp.EnhancedCode{5, 7, 1},
			"Message rejected: the DMARC policy of %s says reject (no aligned DKIM signature or SPF pass)", dm.Domain))
	}
	for i := range s.rcpts {
		if enforced(i) {
			s.rcpts[i].junk = "dmarc " + dm.Policy + " " + dm.Domain
		}
	}
	return nil
}

func (s *session) junkAll(why string) {
	for i := range s.rcpts {
		s.rcpts[i].junk = why
	}
}

func (s *session) rcptDomains() []string {
	out := make([]string, 0, len(s.rcpts))
	for _, rc := range s.rcpts {
		_, d := address.Split(rc.addr)
		out = append(out, d)
	}
	return out
}

// authorDomains are the domains of the From addresses (RFC 7489 3.1: the
// author domain), normalised to A-labels, each once.
func authorDomains(h *mailheader.Header) []string {
	addrs, _ := h.Addresses("From")
	var out []string
	for _, a := range addrs {
		_, d := address.Split(a)
		n, err := address.Domain(d)
		if err != nil {
			n = strings.ToLower(d)
		}
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// rdns is the client's name for the Received field when the checks ran:
// the forward-confirmed name, or "unknown" as Postfix writes it.
func (s *session) rdns() string {
	if !s.checksApply() {
		return ""
	}
	if s.cc.iprev.Name != "" {
		return s.cc.iprev.Name
	}
	return "unknown"
}
