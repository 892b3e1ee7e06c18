package mta

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"mailhost/dnsres"
	"mailhost/mtasts"
	"mailhost/store"
)

// Outbound TLS policies, as Postfix's smtp_tls_security_level, set per
// installation (TLSPolicy) and per recipient domain (TLSDomains):
//
//   - none: no STARTTLS, and no MTA-STS or DANE lookups (an override for
//     a peer whose TLS is broken).
//   - may: STARTTLS when offered, certificate not verified; a failed
//     handshake is retried in clear.
//   - dane: may, and DANE (RFC 7672, outdane.go) for MX hosts whose
//     addresses and TLSA records the resolver authenticated: usable TLSA
//     records make TLS mandatory with a certificate that matches one;
//     TLSA records none of which is usable make it mandatory without.
//   - encrypt: STARTTLS required, certificate not verified.
//   - verify: STARTTLS required with a certificate that verifies against
//     OutboundConfig.RootCAs (the system's roots by default) for the host
//     name connected to (the MX host, the relay host).
//
// Above any of them but none, a destination domain's MTA-STS policy
// (RFC 8461, outsts.go) applies to its MX hosts unless DANE does (RFC
// 8461 2): enforce requires a matching MX host name and a certificate
// that verifies, testing delivers as the policy above says and counts
// what would have failed.
//
// A relay host with AUTH credentials is always verify: its password never
// goes out in clear or to a host that could not prove its name.

var (
	errTLSRequired = errors.New("TLS is required (outbound TLS policy, MTA-STS, DANE, or AUTH to the relay host) but not offered")
	errTLSFailed   = errors.New("TLS required but the handshake or the certificate check failed")
)

// tlsStrength orders the policies; a connection takes the strictest.
var tlsStrength = map[string]int{"none": 0, "may": 1, "dane": 2, "encrypt": 3, "verify": 4}

// tlsPolicy is the STARTTLS policy of a connection on rt for rcpts: the
// strictest of their domains' policies; verify when rt logs in.
func (o *Outbound) tlsPolicy(rcpts []store.QueueJobRecipient, rt route) string {
	if rt.auth {
		return "verify"
	}
	best := ""
	for _, r := range rcpts {
		p, ok := o.cfg.TLSDomains[r.Domain]
		if !ok {
			p = o.cfg.TLSPolicy
		}
		if best == "" || tlsStrength[p] > tlsStrength[best] {
			best = p
		}
	}
	return best
}

// tlsCheck is what one connection's STARTTLS must achieve.
type tlsCheck struct {
	starttls bool          // use STARTTLS when offered (not under none)
	require  bool          // no STARTTLS or a failed handshake: do not deliver
	pkix     bool          // the certificate must verify for the host name
	tlsa     []dnsres.TLSA // DANE: the certificate must match one of these (pkix is off)
	// report: check the certificate (Web PKI) and count a failure, but
	// deliver anyway (MTA-STS testing).
	report bool
	// domain and rpt name the destination and the policy for the TLS
	// reporting counters ("sts", "tlsa", "no-policy-found"); empty: not
	// counted (not a domain's own MX hosts).
	domain, rpt string
	label       string // the policy as the queue's reason names it
}

// baseCheck is the check of a policy without MTA-STS and DANE.
func baseCheck(policy string) tlsCheck {
	c := tlsCheck{starttls: policy != "none", label: "TLS policy " + policy}
	switch policy {
	case "encrypt":
		c.require = true
	case "verify":
		c.require, c.pkix = true, true
	}
	return c
}

// enforced says whether a certificate check failure ends the connection.
func (c tlsCheck) enforced() bool { return c.require && (c.pkix || len(c.tlsa) > 0) }

// checked says whether the certificate is checked at all.
func (c tlsCheck) checked() bool { return c.pkix || c.report || len(c.tlsa) > 0 }

// tlsFailure is a failed certificate check, with its RFC 8460 result
// type.
type tlsFailure struct {
	label, result string
	err           error
}

func (f *tlsFailure) Error() string { return fmt.Sprintf("%s: %s: %v", f.label, f.result, f.err) }
func (f *tlsFailure) Unwrap() error { return f.err }

// verify checks the server's certificate chain for host under c: DANE
// when c has TLSA records, else the Web PKI against roots.
func (c tlsCheck) verify(cs tls.ConnectionState, host string, roots *x509.CertPool) *tlsFailure {
	if len(cs.PeerCertificates) == 0 {
		return &tlsFailure{label: c.label, result: rptValidationFailure, err: errors.New("no certificate")}
	}
	if len(c.tlsa) > 0 {
		if err := daneVerify(cs.PeerCertificates, c.tlsa, host); err != nil {
			return &tlsFailure{label: c.label, result: rptTLSAInvalid, err: err}
		}
		return nil
	}
	inter := x509.NewCertPool()
	for _, ic := range cs.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
	if err != nil {
		return &tlsFailure{label: c.label, result: pkixResult(err), err: err}
	}
	return nil
}

// tlsConfig is the client configuration for host under c. The handshake
// itself verifies nothing; VerifyConnection checks what c asks for,
// ending the handshake when c enforces it, else recording the failure in
// *failed for the TLS reporting counters.
func (o *Outbound) tlsConfig(host string, c tlsCheck, failed **tlsFailure) *tls.Config {
	conf := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
	if c.checked() {
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			f := c.verify(cs, host, o.cfg.RootCAs)
			if f == nil {
				return nil
			}
			*failed = f
			if c.enforced() {
				return f
			}
			return nil
		}
	}
	return conf
}

// hostCheck is the check of a connection to host h on rt under policy
// (tlsPolicy), DANE, and the destination's MTA-STS policy sts (nil:
// none); addrAuth says whether h's addresses were authenticated. An
// error says h must not be used.
func (o *Outbound) hostCheck(ctx context.Context, rt route, policy string, sts *mtasts.Policy, h string, addrAuth bool) (tlsCheck, error) {
	c := baseCheck(policy)
	if rt.own {
		c.domain, c.rpt = rt.host, rptPolicyNone
	}
	if policy == "none" {
		return c, nil
	}
	if policy == "dane" {
		d := o.dane(ctx, h, addrAuth)
		switch {
		case d.err != nil:
			o.tlsReport(tlsResult{c.domain, rptPolicyTLSA, h, "", rptDNSSECInvalid})
			return c, &tlsFailure{label: "DANE", result: rptDNSSECInvalid, err: d.err}
		case len(d.usable) > 0: // RFC 8461 2: DANE, not MTA-STS
			return tlsCheck{starttls: true, require: true, tlsa: d.usable, domain: c.domain, rpt: rptPolicyTLSA, label: "DANE"}, nil
		case d.present: // RFC 7672 2.2: unauthenticated TLS, but TLS
			o.tlsReport(tlsResult{c.domain, rptPolicyTLSA, h, "", rptTLSAInvalid})
			c.require, c.label = true, "DANE (no usable TLSA record)"
		}
	}
	if sts == nil || !rt.own {
		return c, nil
	}
	c, mismatch := stsCheck(sts, h, c)
	if mismatch != nil {
		o.tlsReport(tlsResult{c.domain, c.rpt, h, "", mismatch.result})
		if sts.Mode == mtasts.Enforce {
			return c, mismatch
		}
	}
	return c, nil
}

// startTLS runs STARTTLS on c as check asks (not when plain: the retry in
// clear after a failed handshake) and counts the session for TLS
// reporting. The error is a reply to STARTTLS, errTLSRequired, or
// errTLSFailed wrapping why the handshake or the check failed.
func (o *Outbound) startTLS(ctx context.Context, c *outConn, host string, check tlsCheck, plain bool) error {
	if plain || !check.starttls {
		return nil
	}
	if !c.has("STARTTLS") {
		o.tlsReport(tlsResult{check.domain, check.rpt, host, remoteIP(c), rptStartTLSNotSupported})
		if check.require {
			return errTLSRequired
		}
		return nil
	}
	var failed *tlsFailure
	err := c.startTLS(ctx, o.tlsConfig(host, check, &failed), o.cfg.Hostname)
	var re *replyError
	switch {
	case errors.As(err, &re):
		o.tlsReport(tlsResult{check.domain, check.rpt, host, remoteIP(c), rptStartTLSNotSupported})
		return err
	case err != nil:
		result := rptValidationFailure
		if failed != nil {
			result = failed.result
		}
		o.tlsReport(tlsResult{check.domain, check.rpt, host, remoteIP(c), result})
		return fmt.Errorf("%w: %w", errTLSFailed, err)
	case failed != nil: // a check that only reports (MTA-STS testing)
		o.tlsReport(tlsResult{check.domain, check.rpt, host, remoteIP(c), failed.result})
		o.log.Info("queue: TLS check failed, delivering anyway", "host", host, "policy", failed.label, "result", failed.result, "err", failed.err)
	default:
		o.tlsReport(tlsResult{check.domain, check.rpt, host, remoteIP(c), rptSuccessful})
	}
	return nil
}
