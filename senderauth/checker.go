// Package senderauth holds the checks an MX makes of who sent a message:
// SPF (RFC 7208) of the MAIL FROM identity, or of the HELO identity for
// the null sender; DKIM (RFC 6376) verification of every signature;
// DMARC (RFC 7489) with identifier alignment against the organisational
// domain (the Public Suffix List); forward-confirmed reverse DNS of the
// client (iprev, RFC 8601 3); and the one Authentication-Results header
// field (RFC 8601) that reports them, with the removal of forged ones.
//
// Every lookup goes through dnsres, the node's one resolver, and its cache. The package
// decides results, not policy: what a result makes the server do (reject,
// file into Junk) is the MTA's, by the recipient domain's settings.
package senderauth

import (
	"math/rand/v2"

	"mailhost/dnsres"
)

// The results RFC 8601 2.7 names; each method uses a subset.
const (
	None      = "none"
	Pass      = "pass"
	Fail      = "fail"
	SoftFail  = "softfail"
	Neutral   = "neutral"
	TempError = "temperror"
	PermError = "permerror"
)

// Checker runs the checks. Its zero value is not usable: DNS is required.
type Checker struct {
	// DNS answers every lookup.
	DNS *dnsres.Resolver
	// MaxSignatures bounds the DKIM signatures verified per message (each
	// costs a key lookup and a public-key operation); 0 means 5. Later
	// signatures are reported as not checked (policy), never as pass.
	MaxSignatures int
	// Sample answers whether a message falls within a DMARC pct
	// percentage (RFC 7489 6.6.4); nil draws at random.
	Sample func(pct int) bool
}

// lib is the resolver the checks' libraries ask: dnsres (whose cache, when
// it has one, keeps answers by their TTL).
func (c *Checker) lib() libResolver { return libResolver{c.DNS} }

func (c *Checker) sample(pct int) bool {
	if c.Sample != nil {
		return c.Sample(pct)
	}
	return rand.IntN(100) < pct
}
