package mta

import (
	"context"
	"errors"
	"time"

	"mailhost/mtasts"
	"mailhost/store"
)

// MTA-STS (RFC 8461) for outbound delivery: before a destination
// domain's MX hosts are tried, its "_mta-sts" TXT record is looked up;
// the policy it announces is fetched over HTTPS (mtasts.Fetcher) and
// cached in PostgreSQL, shared by every node. A cached policy is used
// while its TXT id is unchanged and until it is due for a refresh
// (half its max_age, at most a day); then it is fetched again, and kept
// (until it expires) when that fails, as when the TXT record cannot be
// read (5.1). After a failed fetch the next waits an hour.

// STSCache is where MTA-STS policies are cached. *store.Store satisfies
// it.
type STSCache interface {
	STSPolicy(ctx context.Context, domain string) (store.STSPolicy, error)
	SaveSTSPolicy(ctx context.Context, p store.STSPolicy, refresh time.Duration) error
	DeferSTSFetch(ctx context.Context, domain string, wait time.Duration) error
}

var _ STSCache = (*store.Store)(nil)

const (
	// stsFetchTimeout bounds one policy fetch.
	stsFetchTimeout = 20 * time.Second
	// stsRefreshMax: a cached policy is fetched again at least daily
	// (RFC 8461 10.2 suggests a daily refresh).
	stsRefreshMax = 24 * time.Hour
	// stsRetry is how long a failed fetch waits before the next one.
	stsRetry = time.Hour
)

// newSTSFetcher fetches policies through the one resolver.
func (o *Outbound) newSTSFetcher() *mtasts.Fetcher {
	return &mtasts.Fetcher{RootCAs: o.cfg.RootCAs, Port: o.cfg.MTASTSPort, Timeout: stsFetchTimeout,
		Dial: o.dns.Dialer(o.cfg.ConnectTimeout)}
}

// stsPolicy returns the MTA-STS policy in force for domain; nil when it
// has none (or a policy of mode none).
func (o *Outbound) stsPolicy(ctx context.Context, domain string) *mtasts.Policy {
	txts, err := o.dns.TXT(ctx, "_mta-sts."+domain)
	var rec mtasts.Record
	if err == nil {
		rec, err = mtasts.ParseRecords(txts)
	}
	cached, cerr := o.st.STSPolicy(ctx, domain)
	if cerr != nil && !errors.Is(cerr, store.ErrNotFound) {
		o.log.Warn("mta-sts: reading the cached policy", "domain", domain, "err", cerr)
	}
	valid := cerr == nil && !cached.Expired
	switch {
	case err != nil && valid: // the record is gone or unreadable: the cache holds
		return inForce(cached)
	case err != nil:
		return nil
	case valid && (cached.RetryWait || cached.ID == rec.ID && !cached.RefreshDue):
		return inForce(cached)
	}
	p, text, err := o.sts.Fetch(ctx, domain)
	if err != nil {
		result := rptSTSPolicyFetchError
		if _, perr := mtasts.ParsePolicy(text); text != "" && perr != nil {
			result = rptSTSPolicyInvalid
		} else if pkixResult(err) != rptValidationFailure {
			result = rptSTSWebPKIInvalid
		}
		o.tlsReport(tlsResult{domain: domain, policy: rptPolicySTS, result: result})
		o.log.Warn("mta-sts: policy fetch failed", "domain", domain, "id", rec.ID, "cached", valid, "err", err)
		if valid {
			if err := o.st.DeferSTSFetch(ctx, domain, stsRetry); err != nil {
				o.log.Warn("mta-sts: deferring the next fetch", "domain", domain, "err", err)
			}
			return inForce(cached)
		}
		return nil
	}
	refresh := min(time.Duration(p.MaxAge)*time.Second/2, stsRefreshMax)
	err = o.st.SaveSTSPolicy(ctx, store.STSPolicy{Domain: domain, ID: rec.ID, Mode: string(p.Mode),
		MaxAge: p.MaxAge, MX: p.MX, Policy: text}, refresh)
	if err != nil {
		o.log.Warn("mta-sts: caching the policy", "domain", domain, "err", err)
	}
	o.log.Info("mta-sts: policy fetched", "domain", domain, "id", rec.ID, "mode", p.Mode, "max_age", p.MaxAge)
	if p.Mode == mtasts.None {
		return nil
	}
	return &p
}

// inForce is a cached policy, nil for mode none.
func inForce(c store.STSPolicy) *mtasts.Policy {
	if c.Mode == string(mtasts.None) {
		return nil
	}
	return &mtasts.Policy{Mode: mtasts.Mode(c.Mode), MaxAge: c.MaxAge, MX: c.MX}
}

// stsCheck is the check of a connection to an MX host of a domain whose
// MTA-STS policy is p, over base (the check without it). mismatch is set
// when p does not allow host (RFC 8461 4.1): under enforce the host must
// not be used, under testing it is only counted.
func stsCheck(p *mtasts.Policy, host string, base tlsCheck) (c tlsCheck, mismatch *tlsFailure) {
	c = base
	c.rpt, c.label = rptPolicySTS, "MTA-STS policy ("+string(p.Mode)+")"
	if !p.Match(host) {
		mismatch = &tlsFailure{label: c.label, result: rptValidationFailure,
			err: errors.New("MX host " + host + " is not among the policy's mx patterns")}
	}
	if p.Mode == mtasts.Enforce {
		c.starttls, c.require, c.pkix = true, true, true
	} else {
		c.report = true // testing
	}
	return c, mismatch
}
