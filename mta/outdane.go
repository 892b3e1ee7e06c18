package mta

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"

	"mailhost/dnsres"
)

// DANE for SMTP (RFC 7672): under the policy dane, the TLSA records of
// an MX host ("_25._tcp.<host>") are looked up when the resolver
// authenticated the host's addresses (the AD bit), and used only when it
// authenticated them too. Usable records (DANE-TA and DANE-EE, 3.1)
// make TLS mandatory with a certificate that matches one of them; a
// record set with none usable still makes TLS mandatory (2.2); no
// records fall back to the other policies. The MX host name itself is
// the TLSA base domain (CNAMEs of MX hosts are not followed, 2.2.3).

// TLSA certificate usages, selectors and matching types (RFC 6698 2.1,
// RFC 7218).
const (
	daneTA      = 2 // DANE-TA: a trust anchor in the server's chain
	daneEE      = 3 // DANE-EE: the server's own certificate or key
	selCert     = 0 // the whole certificate
	selSPKI     = 1 // its SubjectPublicKeyInfo
	matchFull   = 0 // compared as is
	matchSHA2   = 1 // SHA2-256 of it
	matchSHA512 = 2 // SHA2-512 of it
)

// daneLookup is what DANE says about one MX host.
type daneLookup struct {
	usable  []dnsres.TLSA // records to match; none: see present
	present bool          // authenticated records exist (usable or not): TLS is mandatory
	err     error         // the lookup failed: the host must not be used (RFC 7672 2.2)
}

// dane looks up host's TLSA records; addrAuth says whether its
// addresses were authenticated (else DANE does not apply, 2.2.2).
func (o *Outbound) dane(ctx context.Context, host string, addrAuth bool) daneLookup {
	if !addrAuth {
		return daneLookup{}
	}
	recs, ad, err := o.dns.TLSA(ctx, "_25._tcp."+host)
	switch {
	case errors.Is(err, dnsres.ErrNotFound) || errors.Is(err, dnsres.ErrNoData):
		return daneLookup{} // secure or not, no records: no DANE
	case err != nil:
		// RFC 7672 2.2: a failed TLSA lookup of a host with secure
		// addresses may hide records an attacker removed.
		return daneLookup{err: fmt.Errorf("TLSA lookup of %s failed: %w", host, err)}
	case !ad:
		return daneLookup{} // not validated: ignored
	}
	return daneLookup{usable: usableTLSA(recs), present: true}
}

// usableTLSA keeps the records an SMTP client can use (RFC 7672 3.1):
// DANE-TA and DANE-EE with a known selector and matching type whose data
// has the digest's length. PKIX-TA and PKIX-EE are unusable (3.1.3).
func usableTLSA(recs []dnsres.TLSA) []dnsres.TLSA {
	var out []dnsres.TLSA
	for _, r := range recs {
		okLen := r.MatchingType == matchFull && len(r.Data) > 0 ||
			r.MatchingType == matchSHA2 && len(r.Data) == sha256.Size ||
			r.MatchingType == matchSHA512 && len(r.Data) == sha512.Size
		if (r.Usage == daneTA || r.Usage == daneEE) && r.Selector <= selSPKI && okLen {
			out = append(out, r)
		}
	}
	return out
}

// tlsaMatches says whether cert is the one r describes.
func tlsaMatches(r dnsres.TLSA, cert *x509.Certificate) bool {
	data := cert.Raw
	if r.Selector == selSPKI {
		data = cert.RawSubjectPublicKeyInfo
	}
	switch r.MatchingType {
	case matchSHA2:
		h := sha256.Sum256(data)
		data = h[:]
	case matchSHA512:
		h := sha512.Sum512(data)
		data = h[:]
	}
	return bytes.Equal(data, r.Data)
}

// daneVerify checks the server's chain against usable TLSA records: a
// DANE-EE record matching the server's certificate (no name or date
// checks, RFC 7672 3.1.1), or a DANE-TA record matching a certificate of
// the chain that issued a server certificate valid for host (3.1.2,
// 3.2.2).
func daneVerify(chain []*x509.Certificate, recs []dnsres.TLSA, host string) error {
	for _, r := range recs {
		if r.Usage == daneEE && tlsaMatches(r, chain[0]) {
			return nil
		}
	}
	var lastErr error
	for _, r := range recs {
		if r.Usage != daneTA {
			continue
		}
		for i, ta := range chain[1:] {
			if !tlsaMatches(r, ta) {
				continue
			}
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(ta)
			for _, c := range chain[1 : i+1] {
				inter.AddCert(c)
			}
			_, err := chain[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
			if err == nil {
				return nil
			}
			lastErr = err
		}
	}
	if lastErr != nil {
		return fmt.Errorf("certificate does not chain to the DANE-TA trust anchor for %s: %w", host, lastErr)
	}
	return fmt.Errorf("certificate of %s matches none of its %d usable TLSA records", host, len(recs))
}
