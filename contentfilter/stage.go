package contentfilter

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"mailhost/store"
)

// Store is what the stage needs from the database; *store.Store
// satisfies it.
type Store interface {
	// ContentPolicies returns the settings of the named domains, the
	// defaults for those without their own.
	ContentPolicies(ctx context.Context, domains []string) (map[string]store.ContentPolicy, error)
}

var _ Store = (*store.Store)(nil)

// Config is one listener's filter stage.
type Config struct {
	Hostname    string  // j, and the verdict field's name of the checker
	Checks      bool    // run the header, MIME header and body rules
	Attachments bool    // refuse banned attachments
	Rules       []*Rule // the global rules, before every domain's own
	Milters     []*Milter
	Limits      Limits
	// Submission: mail from logged-in users, going out. A virus is
	// refused whatever the policy; spam is only marked.
	Submission bool
}

// Envelope is the transaction the message came in, for the policies and
// the milters' macros.
type Envelope struct {
	Listener   string // smtp, submission: the {daemon_name} macro
	Hostname   string // set by the stage
	QueueID    string
	ClientIP   netip.Addr
	ClientName string // verified host name, "" when none
	Helo       string
	TLSVersion string
	TLSCipher  string
	AuthUser   string
	From       string // "" for <>
	Rcpts      []Rcpt
}

// Rcpt is one recipient and the hosted domain whose policy applies to
// its copy ("" for an address delivered elsewhere: the defaults).
type Rcpt struct {
	Addr   string
	Domain string
}

// Verdict is what the stage decided about a message.
type Verdict struct {
	// Verb is "" (deliver), Reject, Tempfail, Discard or Hold.
	Verb   Verb
	Reply  Reply  // Reject and Tempfail
	Reason string // for the mail log
	// Drop marks the recipients refused by their own domain's rules or
	// policy while others take the message (they get no copy); Junk those
	// whose copy goes to the Junk folder. Both by Envelope.Rcpts index.
	Drop, Junk []bool
	// Changed says that Header and Body replace the message: rules or
	// milters changed it.
	Changed      bool
	Header, Body []byte
	// Redirect replaces the recipients (a REDIRECT rule).
	Redirect string
	// Recipient and sender changes by milters.
	AddRcpts, DelRcpts []string
	ChangeFrom         bool
	From               string
	// What the scanners said.
	Spam     bool
	Score    float64
	HasScore bool
	Virus    string
	Warnings []string
	// Field is the verdict header field to put on top of the message,
	// without its line end.
	Field string
}

// Stage is one listener's filter stage.
type Stage struct {
	cfg   Config
	store Store
	log   *slog.Logger
	def   *domainPolicy

	mu    sync.Mutex
	cache map[string]cachedPolicy
}

type cachedPolicy struct {
	at  time.Time
	pol *domainPolicy
}

// domainPolicy is a domain's settings with its checks compiled.
type domainPolicy struct {
	p      store.ContentPolicy
	checks Checks
}

// policyTTL is how long a domain's settings are used before they are read
// again: a change on the panel takes effect within it.
const policyTTL = 5 * time.Second

// New returns the stage of a listener.
func New(cfg Config, st Store, log *slog.Logger) *Stage {
	s := &Stage{cfg: cfg, store: st, log: log, cache: map[string]cachedPolicy{}}
	s.def = s.compile(store.DefaultContentPolicy(""))
	return s
}

// Active reports whether the stage has anything to do.
func (s *Stage) Active() bool {
	return s.cfg.Checks || s.cfg.Attachments || len(s.cfg.Milters) > 0
}

// compile builds a domain's checks: the global rules, then the domain's
// own (only those that act on the whole message for the domain's
// recipients alone: REJECT, DISCARD, HOLD, WARN), and its banned list.
func (s *Stage) compile(p store.ContentPolicy) *domainPolicy {
	dp := &domainPolicy{p: p, checks: Checks{Limits: s.cfg.Limits}}
	if s.cfg.Checks {
		dp.checks.Rules = append(dp.checks.Rules, s.cfg.Rules...)
		for _, fr := range p.Rules {
			r, err := ParseRule(Kind(fr.Kind), fr.Rule)
			if err == nil && !domainVerb(r.Verb) {
				err = fmt.Errorf("action %s is not allowed in a domain's rules", r.Verb)
			}
			if err != nil {
				s.log.Warn("filter rule skipped", "domain", p.Domain, "rule_id", fr.ID, "err", err)
				continue
			}
			dp.checks.Rules = append(dp.checks.Rules, r)
		}
	}
	if s.cfg.Attachments {
		b := &Banned{Extensions: p.BannedExtensions, Types: p.BannedTypes, InsideZip: p.ScanZip}
		if b.Extensions == nil {
			b.Extensions = DefaultBannedExtensions
		}
		if b.Types == nil {
			b.Types = DefaultBannedTypes
		}
		dp.checks.Banned = b
	}
	return dp
}

// domainVerb reports whether a domain's own rules may use the action.
func domainVerb(v Verb) bool {
	return v == Reject || v == Discard || v == Hold || v == Warn
}

// policies returns the compiled settings of each domain, from the cache
// or, for those missing or stale, from one query.
func (s *Stage) policies(ctx context.Context, domains []string) (map[string]*domainPolicy, error) {
	out := map[string]*domainPolicy{"": s.def}
	var missing []string
	now := time.Now()
	s.mu.Lock()
	for _, d := range domains {
		if c, ok := s.cache[d]; ok && now.Sub(c.at) < policyTTL {
			out[d] = c.pol
		} else if d != "" {
			missing = append(missing, d)
		}
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	got, err := s.store.ContentPolicies(ctx, missing)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) > 10000 { // bounded: stale entries go
		for d, c := range s.cache {
			if now.Sub(c.at) >= policyTTL {
				delete(s.cache, d)
			}
		}
	}
	for _, d := range missing {
		// A domain without settings of its own shares the default checks,
		// so a message to several such domains is checked once.
		dp := s.def
		if p := got[d]; p.Custom {
			dp = s.compile(p)
		}
		s.cache[d] = cachedPolicy{at: now, pol: dp}
		out[d] = dp
	}
	return out, nil
}

// Run filters msg (header and body as they will be delivered). An error
// is an internal failure (the database); the caller answers 451.
func (s *Stage) Run(ctx context.Context, env Envelope, msg []byte) (Verdict, error) {
	env.Hostname = s.cfg.Hostname
	v := Verdict{Drop: make([]bool, len(env.Rcpts)), Junk: make([]bool, len(env.Rcpts))}
	var domains []string
	for _, r := range env.Rcpts {
		domains = append(domains, r.Domain)
	}
	pols, err := s.policies(ctx, domains)
	if err != nil {
		return Verdict{}, fmt.Errorf("contentfilter: domain policies: %w", err)
	}
	h := splitHeader(msg)
	body := msg[h.size:]
	if s.cfg.Checks || s.cfg.Attachments {
		if s.checks(&v, env, pols, msg, &h) {
			return v, nil
		}
	}
	var added []string
	for _, m := range s.cfg.Milters {
		if s.milter(&v, m, &env, &h, &body, &added) {
			return v, nil
		}
	}
	s.scanResults(&v, env, pols, added)
	if v.Changed {
		v.Header = h.bytes()
		v.Body = body
	}
	v.Field = s.field(&v)
	return v, nil
}

// checks runs the built-in checks once per distinct set of checks among
// the recipients' domains; true when the message is decided.
func (s *Stage) checks(v *Verdict, env Envelope, pols map[string]*domainPolicy, msg []byte, h *header) bool {
	done := map[*Checks]Result{}
	var refusal *Result
	for i, r := range env.Rcpts {
		c := &pols[r.Domain].checks
		res, ok := done[c]
		if !ok {
			res = c.Check(msg)
			done[c] = res
			v.Warnings = append(v.Warnings, res.Warnings...)
			if res.Header != nil && !v.Changed {
				// The global rules' edits (the domains' own cannot edit).
				*h = splitHeader(res.Header)
				v.Changed = true
			}
			if res.Redirect != "" {
				v.Redirect = res.Redirect
			}
		}
		switch res.Verb {
		case Reject, Discard:
			v.Drop[i] = true
			if refusal == nil {
				refusal = &res
			}
		case Hold:
			v.Verb, v.Reason = Hold, res.Reason
		}
	}
	if refusal != nil && allTrue(v.Drop) {
		v.Verb, v.Reply, v.Reason = refusal.Verb, refusal.Reply, refusal.Reason
		return true
	}
	return false
}

// milter runs one milter; true when its answer decides the message.
func (s *Stage) milter(v *Verdict, m *Milter, env *Envelope, h *header, body *[]byte, added *[]string) bool {
	res, err := m.run(env, h, body)
	if err != nil {
		if m.Accept {
			s.log.Warn("milter failed, message passed unfiltered by it", "milter", m.Name, "queue_id", env.QueueID, "err", err)
			v.Warnings = append(v.Warnings, "milter "+m.Name+" failed: accepted unfiltered")
			return false
		}
		s.log.Error("milter failed", "milter", m.Name, "queue_id", env.QueueID, "err", err)
		v.Verb, v.Reason = Tempfail, "milter "+m.Name+" failed"
		v.Reply = Reply{451, [3]int{4, 7, 1}, "Content filter unavailable, try again later"}
		return true
	}
	switch res.verb {
	case Reject, Tempfail, Discard:
		v.Verb, v.Reply, v.Reason = res.verb, res.reply, "milter "+m.Name
		return true
	case Hold:
		v.Verb, v.Reason = Hold, "milter "+m.Name+" quarantine: "+res.reason
	}
	*added = append(*added, res.added...)
	v.AddRcpts = append(v.AddRcpts, res.addRcpt...)
	v.DelRcpts = append(v.DelRcpts, res.delRcpt...)
	if res.changeFrom {
		v.ChangeFrom, v.From, env.From = true, res.from, res.from
	}
	// Every milter sees the message as the ones before it left it.
	v.Changed = v.Changed || res.changed
	return false
}

// scanResults reads the scanners' header fields and applies each
// recipient domain's spam and virus policy.
func (s *Stage) scanResults(v *Verdict, env Envelope, pols map[string]*domainPolicy, added []string) {
	v.Spam, v.Score, v.HasScore, v.Virus = readScanFields(added)
	for i, r := range env.Rcpts {
		if v.Drop[i] {
			continue
		}
		p := pols[r.Domain].p
		if v.Virus != "" && (s.cfg.Submission || p.VirusPolicy == "reject") {
			v.Drop[i] = true
			continue
		}
		if v.Virus != "" && p.VirusPolicy == "hold" && v.Verb == "" {
			v.Verb, v.Reason = Hold, "virus "+v.Virus
		}
		if s.cfg.Submission || p.SpamPolicy == "off" {
			continue
		}
		if p.SpamPolicy == "reject" && v.HasScore && v.Score >= p.RejectScore {
			v.Drop[i] = true
			continue
		}
		v.Junk[i] = v.Spam || v.HasScore && v.Score >= p.JunkScore
	}
	if len(env.Rcpts) == 0 || !allTrue(v.Drop) {
		return
	}
	v.Verb = Reject
	if v.Virus != "" {
		v.Reason = "virus " + v.Virus
		v.Reply = Reply{554, [3]int{5, 7, 1}, "Message rejected: virus found (" + v.Virus + ")"}
		return
	}
	v.Reason = fmt.Sprintf("spam score %.2f", v.Score)
	v.Reply = Reply{554, [3]int{5, 7, 1}, "Message rejected as spam"}
}

// readScanFields reads what spam and virus scanners wrote into the fields
// the milters added: X-Spam / X-Spam-Flag (yes), X-Spam-Status
// (SpamAssassin: "Yes, score=7.5"), X-Spamd-Result (rspamd: "default:
// True [7.50 / 15.00]"), X-Rspamd-Score and X-Spam-Score, and
// X-Virus-Status (clamav-milter: "Infected (Eicar-Signature)"). Fields
// the client sent are not read: a sender cannot vouch for its mail.
func readScanFields(fields []string) (spam bool, score float64, hasScore bool, virus string) {
	for _, f := range fields {
		name, value, _ := strings.Cut(f, ":")
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		lv := strings.ToLower(value)
		switch name {
		case "x-spam", "x-spam-flag":
			spam = spam || lv == "yes" || lv == "true"
		case "x-spam-status":
			spam = spam || strings.HasPrefix(lv, "yes")
			if i := strings.Index(lv, "score="); i >= 0 {
				hasScore = scanFloat(lv[i+6:], &score) || hasScore
			}
		case "x-spamd-result":
			if i := strings.IndexByte(lv, '['); i >= 0 {
				hasScore = scanFloat(strings.TrimSpace(lv[i+1:]), &score) || hasScore
			}
		case "x-rspamd-score", "x-spam-score":
			hasScore = scanFloat(lv, &score) || hasScore
		case "x-virus-status":
			if strings.HasPrefix(lv, "infected") {
				virus = strings.Trim(strings.TrimSpace(value[len("infected"):]), "()")
				if virus == "" {
					virus = "unknown"
				}
			}
		}
	}
	return
}

func scanFloat(s string, out *float64) bool {
	end := 0
	for end < len(s) && (s[end] == '-' || s[end] == '.' || s[end] >= '0' && s[end] <= '9') {
		end++
	}
	var f float64
	if _, err := fmt.Sscanf(s[:end], "%g", &f); err != nil {
		return false
	}
	*out = f
	return true
}

// field is the verdict header field.
func (s *Stage) field(v *Verdict) string {
	var b strings.Builder
	fmt.Fprintf(&b, "X-Mailhost-Filter: %s", s.cfg.Hostname)
	switch {
	case v.Spam && v.HasScore:
		fmt.Fprintf(&b, "; spam=yes score=%.2f", v.Score)
	case v.Spam:
		b.WriteString("; spam=yes")
	case v.HasScore:
		fmt.Fprintf(&b, "; spam=no score=%.2f", v.Score)
	}
	if v.Virus != "" {
		fmt.Fprintf(&b, "; virus=%s", strings.Map(fieldSafe, v.Virus))
	}
	if anyTrue(v.Junk) {
		b.WriteString("; junk")
	}
	return b.String()
}

func fieldSafe(r rune) rune {
	if r < 0x20 || r == 0x7f || r == ';' {
		return '_'
	}
	return r
}

func allTrue(bs []bool) bool {
	for _, b := range bs {
		if !b {
			return false
		}
	}
	return len(bs) > 0
}

func anyTrue(bs []bool) bool {
	for _, b := range bs {
		if b {
			return true
		}
	}
	return false
}

// bytes is the header section again, with its empty line.
func (h *header) bytes() []byte {
	n := len(h.rest)
	for _, f := range h.fields {
		n += len(f.raw)
	}
	out := make([]byte, 0, n+2)
	for _, f := range h.fields {
		out = append(out, f.raw...)
	}
	if len(h.rest) == 0 {
		return append(out, "\r\n"...)
	}
	return append(out, h.rest...)
}
