package mta

import (
	"crypto/x509"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// TLS reporting (RFC 8460): every STARTTLS session to a destination
// domain's MX hosts, and every failed MTA-STS policy fetch, is counted
// by domain, policy type (4.3.1: "sts", "tlsa", "no-policy-found") and
// result: "successful" or one of the failure result types of 4.3.2.
// Sending aggregate reports to the domain's "_smtp._tls" address is not
// done; the counters are what such a report would sum.
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

// tlsReport counts one result for domain under policy.
func (o *Outbound) tlsReport(domain, policy, result string) {
	if domain == "" || policy == "" {
		return
	}
	o.metrics.TLSReport.WithLabelValues(domain, policy, result).Inc()
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
