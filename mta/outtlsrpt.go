package mta

import (
	"crypto/x509"
	"errors"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
)

// TLS reporting (RFC 8460): every STARTTLS session to a destination
// domain's MX hosts, and every failed MTA-STS policy fetch, is counted
// by domain, policy type (4.3.1: "sts", "tlsa", "no-policy-found") and
// result: "successful" or one of the failure result types of 4.3.2.
// With OutboundConfig.TLSReports set, each result also goes there with
// the MX host and its address, for the daily aggregate reports (package
// tlsrpt).
const (
	rptSuccessful            = "successful"
	rptStartTLSNotSupported  = "starttls-not-supported"
	rptCertificateHost       = "certificate-host-mismatch"
	rptCertificateExpired    = "certificate-expired"
	rptCertificateNotTrusted = "certificate-not-trusted"
	rptValidationFailure     = "validation-failure"
	rptTLSAInvalid           = "tlsa-invalid"
	rptDNSSECInvalid         = "dnssec-invalid"
	rptSTSPolicyFetchError   = "sts-policy-fetch-error"
	rptSTSPolicyInvalid      = "sts-policy-invalid"
	rptSTSWebPKIInvalid      = "sts-webpki-invalid"
)

// Policy types of RFC 8460 4.3.1.
const (
	rptPolicySTS  = "sts"
	rptPolicyTLSA = "tlsa"
	rptPolicyNone = "no-policy-found"
)

func newTLSReportCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailhost_tls_report_total",
		Help: "Outbound TLS sessions to a domain's MX hosts and MTA-STS policy fetches, by destination domain, policy type (sts, tlsa, no-policy-found) and RFC 8460 result (successful or a failure type)."},
		[]string{"domain", "policy", "result"})
}

// TLSReporter takes the TLS results for RFC 8460 aggregate reports:
// one session (or policy fetch) to domain's MX host mx at address ip
// (either may be empty) under policy with result.
type TLSReporter interface {
	Add(domain, policy, mx, ip, result string)
}

// tlsResult is one result to count: where (the destination domain, the
// MX host and address when known), under which policy, and what.
type tlsResult struct {
	domain, policy, mx, ip, result string
}

// tlsReport counts one result.
func (o *Outbound) tlsReport(r tlsResult) {
	if r.domain == "" || r.policy == "" {
		return
	}
	o.metrics.TLSReport.WithLabelValues(r.domain, r.policy, r.result).Inc()
	if o.cfg.TLSReports != nil {
		o.cfg.TLSReports.Add(r.domain, r.policy, r.mx, r.ip, r.result)
	}
}

// remoteIP is the address c is connected to, for a report.
func remoteIP(c *outConn) string {
	if ap, err := netip.ParseAddrPort(c.conn.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap().String()
	}
	return ""
}

// pkixResult is the RFC 8460 result type of a failed Web PKI check.
func pkixResult(err error) string {
	var inv x509.CertificateInvalidError
	var host x509.HostnameError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return rptCertificateExpired
	case errors.As(err, &host):
		return rptCertificateHost
	case errors.As(err, &unknown):
		return rptCertificateNotTrusted
	}
	return rptValidationFailure
}
