package mta

import (
	"crypto/tls"
	"errors"

	"mailhost/store"
)

// Outbound TLS policies, as Postfix's smtp_tls_security_level:
//
//   - may: STARTTLS when offered, certificate not verified; a failed
//     handshake is retried in clear.
//   - encrypt: STARTTLS required, certificate not verified.
//   - verify: STARTTLS required with a certificate that verifies against
//     OutboundConfig.RootCAs (the system's roots by default) for the host
//     name connected to (the MX host, the relay host).
//
// A relay host with AUTH credentials is always verify: its password never
// goes out in clear or to a host that could not prove its name.

var (
	errTLSRequired = errors.New("TLS is required (outbound TLS policy, or AUTH to the relay host) but not offered")
	errTLSFailed   = errors.New("TLS required but the handshake or the certificate check failed")
)

// tlsStrength orders the policies; a connection takes the strictest.
var tlsStrength = map[string]int{"may": 0, "encrypt": 1, "verify": 2}

// tlsPolicy is the STARTTLS policy of a connection on rt for rcpts: the
// strictest of their domains' policies; verify when rt logs in.
func (o *Outbound) tlsPolicy(rcpts []store.QueueJobRecipient, rt route) string {
	if rt.auth {
		return "verify"
	}
	best := "may"
	for _, r := range rcpts {
		p, ok := o.cfg.TLSDomains[r.Domain]
		if !ok {
			p = o.cfg.TLSPolicy
		}
		if tlsStrength[p] > tlsStrength[best] {
			best = p
		}
	}
	return best
}

// tlsConfig is the client configuration for host under policy.
func (o *Outbound) tlsConfig(host, policy string) *tls.Config {
	conf := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if policy == "verify" {
		conf.RootCAs = o.cfg.RootCAs
	} else {
		conf.InsecureSkipVerify = true // as Postfix's may and encrypt
	}
	return conf
}
