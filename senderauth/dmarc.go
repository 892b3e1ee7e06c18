package senderauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// DMARC is the outcome of the DMARC check of the author domain.
type DMARC struct {
	// Result is none (no policy published), pass, fail, temperror (the
	// policy could not be looked up for now) or permerror (the message has
	// no author domain, or the policy is broken); RFC 8601 2.7.
	Result string
	// Domain is the author domain (RFC5322.From) checked.
	Domain string
	// Published is the policy the domain asks for ("none", "quarantine",
	// "reject"), sp= for a subdomain when the record is the
	// organisational domain's. Policy is what to apply: Published, one
	// step lower when the message fell outside pct= (RFC 7489 6.6.4);
	// "none" unless Result is fail.
	Published, Policy string
	Err               error
}

// DMARC evaluates the DMARC policy of the author domains (the domains of
// the From addresses; a message should have exactly one, RFC 7489 6.6.1,
// and each is checked when it has several, the worst outcome kept) against
// the SPF and DKIM results: the message passes when a DKIM signature that
// verified, or SPF that passed, is aligned with the author domain as the
// policy's adkim/aspf say (3.1: relaxed compares organisational domains,
// strict the names).
func (c *Checker) DMARC(ctx context.Context, from []string, spfRes SPF, sigs []DKIM) DMARC {
	return c.evaluate(c.policies(ctx, from), spfRes, sigs)
}

// Authenticate runs the end-of-data checks of msg: it verifies the DKIM
// signatures while it looks up the DMARC policies of the author domains
// from (independent lookups, so the message waits for the slower, not
// for both), then waits for spf (started earlier, at MAIL FROM) and
// evaluates DMARC.
func (c *Checker) Authenticate(ctx context.Context, msg []byte, from []string, spf func() SPF) ([]DKIM, SPF, DMARC) {
	pols := make(chan []policyLookup, 1)
	go func() { pols <- c.policies(ctx, from) }()
	sigs := c.DKIM(ctx, msg)
	spfRes := spf()
	return sigs, spfRes, c.evaluate(<-pols, spfRes, sigs)
}

// policyLookup is the DMARC record discovered for one author domain.
type policyLookup struct {
	domain string
	rec    *dmarc.Record
	atOrg  bool
	err    error
}

// policies discovers the DMARC record of each author domain.
func (c *Checker) policies(ctx context.Context, from []string) []policyLookup {
	out := make([]policyLookup, len(from))
	for i, d := range from {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		rec, atOrg, err := c.policy(ctx, d)
		out[i] = policyLookup{domain: d, rec: rec, atOrg: atOrg, err: err}
	}
	return out
}

// evaluate is DMARC's verdict from the discovered records.
func (c *Checker) evaluate(pols []policyLookup, spfRes SPF, sigs []DKIM) DMARC {
	if len(pols) == 0 {
		return DMARC{Result: PermError, Policy: "none", Err: errors.New("dmarc: no author domain (From)")}
	}
	var worst DMARC
	for i, p := range pols {
		r := c.dmarcOne(p, spfRes, sigs)
		if i == 0 || rank(r) > rank(worst) {
			worst = r
		}
	}
	return worst
}

// rank orders outcomes from the least to the most severe.
func rank(d DMARC) int {
	switch {
	case d.Result == Fail:
		return 10 + map[string]int{"none": 0, "quarantine": 1, "reject": 2}[d.Policy]
	case d.Result == TempError:
		return 3
	case d.Result == PermError:
		return 2
	case d.Result == None:
		return 1
	}
	return 0
}

func (c *Checker) dmarcOne(p policyLookup, spfRes SPF, sigs []DKIM) DMARC {
	out := DMARC{Domain: p.domain, Policy: "none"}
	rec, err := p.rec, p.err
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		out.Result = None
		return out
	case err != nil && isTemporary(err):
		out.Result, out.Err = TempError, err
		return out
	case err != nil:
		out.Result, out.Err = PermError, err
		return out
	}
	out.Published = string(rec.Policy)
	if p.atOrg && rec.SubdomainPolicy != "" {
		out.Published = string(rec.SubdomainPolicy)
	}
	if aligned(p.domain, spfRes, sigs, rec) {
		out.Result = Pass
		return out
	}
	out.Result, out.Policy = Fail, out.Published
	if rec.Percent != nil && *rec.Percent < 100 && !c.sample(*rec.Percent) {
		// RFC 7489 6.6.4: outside the sample, the next policy down.
		out.Policy = map[string]string{"reject": "quarantine", "quarantine": "none", "none": "none"}[out.Policy]
	}
	return out
}

// aligned reports an authenticated identifier aligned with the author
// domain (RFC 7489 3.1.1, 3.1.2, 4.2).
func aligned(domain string, spfRes SPF, sigs []DKIM, rec *dmarc.Record) bool {
	for _, s := range sigs {
		if s.Result == Pass && sameDomain(s.Domain, domain, rec.DKIMAlignment == dmarc.AlignmentStrict) {
			return true
		}
	}
	return spfRes.Result == Pass && sameDomain(spfRes.Domain, domain, rec.SPFAlignment == dmarc.AlignmentStrict)
}

// Authenticates reports whether a DKIM signature that verified, or an SPF
// pass, is aligned with domain in relaxed mode: what DMARC would accept
// from it whatever its published record (RFC 7489 3.1).
func Authenticates(domain string, spfRes SPF, sigs []DKIM) bool {
	return aligned(domain, spfRes, sigs, &dmarc.Record{})
}

// TempFailed reports whether SPF or a DKIM signature could not be checked
// for a temporary DNS failure: a verdict of "not authenticated" may then
// be wrong.
func TempFailed(spfRes SPF, sigs []DKIM) bool {
	if spfRes.Result == TempError {
		return true
	}
	for _, s := range sigs {
		if s.Result == TempError {
			return true
		}
	}
	return false
}

// sameDomain compares two domains: the names themselves in strict mode,
// their organisational domains in relaxed mode.
func sameDomain(a, b string, strict bool) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if strict || a == b {
		return a == b
	}
	return OrgDomain(a) == OrgDomain(b)
}

// OrgDomain is the organisational domain of d (RFC 7489 3.2): the public
// suffix of d from the Public Suffix List plus one label; d itself when d
// is a public suffix or shorter.
func OrgDomain(d string) string {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// policy discovers the DMARC record for domain (RFC 7489 6.6.3): the
// author domain's, else its organisational domain's (atOrg). Records not
// starting "v=DMARC1" are not DMARC's; more than one is no policy.
func (c *Checker) policy(ctx context.Context, domain string) (rec *dmarc.Record, atOrg bool, err error) {
	rec, err = c.record(ctx, domain)
	if !errors.Is(err, dmarc.ErrNoPolicy) {
		return rec, false, err
	}
	org := OrgDomain(domain)
	if org == domain {
		return nil, false, err
	}
	rec, err = c.record(ctx, org)
	return rec, true, err
}

func (c *Checker) record(ctx context.Context, domain string) (*dmarc.Record, error) {
	txts, err := c.lib().LookupTXT(ctx, "_dmarc."+domain)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return nil, dmarc.ErrNoPolicy
	case err != nil:
		return nil, err
	}
	var found []string
	for _, t := range txts {
		t = strings.TrimSpace(t)
		if v, _, _ := strings.Cut(t, ";"); strings.TrimSpace(v) == "v=DMARC1" {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return nil, dmarc.ErrNoPolicy
	case 1:
	default:
		return nil, dmarc.ErrNoPolicy // 6.6.3 step 5
	}
	rec, err := dmarc.Parse(found[0])
	if err != nil {
		return nil, fmt.Errorf("dmarc: record of %s: %w", domain, err)
	}
	return rec, nil
}

func isTemporary(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.Temporary()
}
