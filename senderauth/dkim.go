package senderauth

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"mailhost/mailheader"
)

// DKIM is the outcome of one DKIM-Signature field.
type DKIM struct {
	// Result is pass, fail (the signature does not verify), neutral (not
	// checked: over MaxSignatures), temperror (the key could not be had
	// for now) or permerror (a broken signature or key, no key); RFC 8601
	// 2.7.1.
	Result string
	// Domain is the signing domain (d=), lower case; Selector (s=),
	// Algorithm (a=) and B, the first 8 characters of the signature (b=,
	// header.b of RFC 6008), tell signatures apart.
	Domain, Selector, Algorithm, B string
	Err                            error
}

// DKIM verifies every DKIM-Signature of msg (the message as received,
// header and body, CRLF line ends), in header order (RFC 6376 6.1). A
// message without signatures gives none.
func (c *Checker) DKIM(ctx context.Context, msg []byte) []DKIM {
	h := mailheader.Parse(msg)
	var sigs []DKIM
	for f := h.FieldsByKey("DKIM-Signature"); f.Next(); {
		sigs = append(sigs, sigTags(f.Value()))
	}
	if len(sigs) == 0 {
		return nil
	}
	max := c.MaxSignatures
	if max <= 0 {
		max = 5
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: c.lib().lookupTXT(ctx), MaxVerifications: max,
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) || len(verifs) != min(len(sigs), max) {
		// The library could not read the message, or found other
		// signatures than mailheader (a verdict could go to the wrong
		// one): trust none of its verdicts (on such an error it also
		// clears a signature's own).
		if err == nil {
			err = errors.New("dkim: signatures counted differently")
		}
		for i := range sigs {
			sigs[i].Result, sigs[i].Err = PermError, err
		}
		return sigs
	}
	for i := range sigs {
		if i >= len(verifs) {
			sigs[i].Result, sigs[i].Err = Neutral, dkim.ErrTooManySignatures
			continue
		}
		v := verifs[i]
		sigs[i].Err = v.Err
		switch {
		case v.Err == nil:
			sigs[i].Result = Pass
			sigs[i].Domain = strings.ToLower(v.Domain)
		case dkim.IsTempFail(v.Err):
			sigs[i].Result = TempError
		case dkim.IsPermFail(v.Err):
			sigs[i].Result = PermError
		default:
			sigs[i].Result = Fail
		}
	}
	return sigs
}

// sigTags reads the tags of a DKIM-Signature value that the report names
// (RFC 6376 3.2 tag-list): d, s, a and the start of b.
func sigTags(v string) DKIM {
	var d DKIM
	for _, tag := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(tag, "=")
		if !ok {
			continue
		}
		val = strings.Join(strings.Fields(val), "") // folding white space
		switch strings.TrimSpace(k) {
		case "d":
			d.Domain = strings.ToLower(val)
		case "s":
			d.Selector = val
		case "a":
			d.Algorithm = strings.ToLower(val)
		case "b":
			d.B = val[:min(len(val), 8)]
		}
	}
	return d
}
