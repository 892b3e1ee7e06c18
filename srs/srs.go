// Package srs is the Sender Rewriting Scheme in the form of Shevek's
// libsrs2 and Mail::SRS, as postsrsd and Postfix sites use it: the
// envelope sender of a message forwarded to another domain is rewritten
// into an address of ours that encodes the original sender, so SPF checks
// of the next hop see our domain, and a bounce to that address finds its
// way back.
//
//	SRS0=HHHH=TT=domain=local@srs.domain
//	SRS1=HHHH=first.forwarder==HHHH=TT=domain=local@srs.domain
//
// HHHH is the HMAC-SHA1 of the other fields (lower-cased) under the
// installation's secret, base64, its first four characters; TT the day
// number modulo 1024 in two base32 characters. Hashes and timestamps are
// compared case-insensitively, since some MTAs lower-case local parts. A
// reverse rewrite checks the hash against every secret (the newest signs,
// older ones are kept to verify during a rotation) and the timestamp's age,
// so a forged or stale SRS address is refused: no open forwarding.
package srs

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors of Reverse. A caller refuses the address for any of them.
var (
	ErrNotSRS    = errors.New("srs: not an SRS address")
	ErrMalformed = errors.New("srs: malformed SRS address")
	ErrBadHash   = errors.New("srs: hash does not match")
	ErrExpired   = errors.New("srs: timestamp too old")
)

const (
	hashLen      = 4                                  // characters of base64, as libsrs2's default
	timeBase32   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" // libsrs2's timestamp alphabet
	timeSlots    = 1024                               // two base32 characters
	day          = 24 * time.Hour
	separators   = "=+-" // what may follow SRS0/SRS1 (libsrs2 accepts all three)
	sep          = "="   // what we write
	tag0, tag1   = "SRS0", "SRS1"
	minSecretLen = 16
)

// Rewriter rewrites senders into SRS addresses of one domain and back.
// It holds no mutable state: one may be shared by every session.
type Rewriter struct {
	secrets [][]byte // [0] signs, all verify
	domain  string
	maxAge  int // days
}

// New returns a Rewriter for addresses @domain. secrets[0] signs new
// addresses; each secret verifies. maxAge is how old an SRS0 address may
// be when a bounce comes back (libsrs2's maxage; postsrsd's default is 21
// days); it is counted in whole days and must be below 1024 days.
func New(secrets [][]byte, domain string, maxAge time.Duration) (*Rewriter, error) {
	if len(secrets) == 0 {
		return nil, errors.New("srs: no secret")
	}
	for _, s := range secrets {
		if len(s) < minSecretLen {
			return nil, fmt.Errorf("srs: a secret must have at least %d bytes", minSecretLen)
		}
	}
	days := int(maxAge / day)
	if days < 1 || days >= timeSlots {
		return nil, fmt.Errorf("srs: maximum age must be from 1 to %d days, got %s", timeSlots-1, maxAge)
	}
	if domain == "" || strings.Contains(domain, "@") {
		return nil, fmt.Errorf("srs: bad domain %q", domain)
	}
	return &Rewriter{secrets: secrets, domain: strings.ToLower(domain), maxAge: days}, nil
}

// Domain is the domain of the SRS addresses this Rewriter makes.
func (r *Rewriter) Domain() string { return r.domain }

// Forward returns the SRS address for sender (local@domain) at now: SRS0
// for an ordinary address, SRS1 for an SRS0 or SRS1 address of another
// forwarder (the chain stays one hop long, pointing at the first
// forwarder). An address already of our SRS domain is returned as it is.
func (r *Rewriter) Forward(sender string, now time.Time) (string, error) {
	local, host, ok := split(sender)
	if !ok {
		return "", fmt.Errorf("srs: cannot rewrite %q: not local@domain", sender)
	}
	if strings.EqualFold(host, r.domain) {
		return sender, nil
	}
	switch tag(local) {
	case tag0:
		// SRS0=HHHH=TT=d=l@host -> SRS1=H=host==HHHH=TT=d=l: the user
		// part keeps its separator (libsrs2's srs_compile_guarded).
		user := local[len(tag0):]
		return r.srs1(host, user), nil
	case tag1:
		// Re-forwarding an SRS1 address: keep its first forwarder and
		// the SRS0 part, sign them anew.
		parts := strings.SplitN(local[len(tag1)+1:], sep, 3)
		if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
			return "", fmt.Errorf("%w: %q", ErrMalformed, sender)
		}
		return r.srs1(parts[1], parts[2]), nil
	}
	ts := timestamp(now)
	h := r.hash(r.secrets[0], ts, host, local)
	return tag0 + sep + h + sep + ts + sep + host + sep + local + "@" + r.domain, nil
}

func (r *Rewriter) srs1(host, user string) string {
	return tag1 + sep + r.hash(r.secrets[0], host, user) + sep + host + sep + user + "@" + r.domain
}

// IsSRS reports whether addr's local part has the form of an SRS address
// (SRS0 or SRS1 and a separator, any case), whatever its domain.
func IsSRS(addr string) bool {
	local, _, _ := split(addr)
	return tag(local) != ""
}

// Reverse returns the address an SRS address stands for: the original
// sender of an SRS0 address, the first forwarder's SRS0 address of an
// SRS1 one. The hash must match one of the secrets and an SRS0 timestamp
// be at most the maximum age old at now. The domain of addr is not
// checked: the caller decides which domains are ours.
func (r *Rewriter) Reverse(addr string, now time.Time) (string, error) {
	local, _, ok := split(addr)
	if !ok {
		return "", ErrNotSRS
	}
	switch tag(local) {
	case tag0:
		// HHHH=TT=host=user; the user part may hold separators.
		p := strings.SplitN(local[len(tag0)+1:], sep, 4)
		if len(p) != 4 || p[2] == "" || p[3] == "" {
			return "", fmt.Errorf("%w: %q", ErrMalformed, addr)
		}
		if !r.hashOK(p[0], p[1], p[2], p[3]) {
			return "", ErrBadHash
		}
		if err := r.checkTimestamp(p[1], now); err != nil {
			return "", err
		}
		return p[3] + "@" + p[2], nil
	case tag1:
		// HHHH=host=<sep>HHHH=TT=d=l
		p := strings.SplitN(local[len(tag1)+1:], sep, 3)
		if len(p) != 3 || p[1] == "" || len(p[2]) < 2 {
			return "", fmt.Errorf("%w: %q", ErrMalformed, addr)
		}
		if !r.hashOK(p[0], p[1], p[2]) {
			return "", ErrBadHash
		}
		return tag0 + p[2] + "@" + p[1], nil
	}
	return "", ErrNotSRS
}

// tag is SRS0 or SRS1 when local starts with it (any case) and a
// separator, else "".
func tag(local string) string {
	if len(local) < 5 || !strings.ContainsRune(separators, rune(local[4])) {
		return ""
	}
	switch {
	case strings.EqualFold(local[:4], tag0):
		return tag0
	case strings.EqualFold(local[:4], tag1):
		return tag1
	}
	return ""
}

func split(addr string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 {
		return "", "", false
	}
	return addr[:i], addr[i+1:], true
}

// hash is libsrs2's srs_hash_create: HMAC-SHA1 over the ASCII-lower-cased
// fields, base64, truncated.
func (r *Rewriter) hash(secret []byte, fields ...string) string {
	m := hmac.New(sha1.New, secret)
	for _, f := range fields {
		m.Write([]byte(asciiLower(f)))
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))[:hashLen]
}

// hashOK compares got with the hash under every secret, ignoring case
// (libsrs2's srs_hash_check), in constant time.
func (r *Rewriter) hashOK(got string, fields ...string) bool {
	if len(got) != hashLen {
		return false
	}
	g := []byte(asciiLower(got))
	ok := false
	for _, s := range r.secrets {
		if subtle.ConstantTimeCompare(g, []byte(asciiLower(r.hash(s, fields...)))) == 1 {
			ok = true
		}
	}
	return ok
}

// timestamp is the day number modulo 1024 in two base32 characters.
func timestamp(now time.Time) string {
	d := dayNumber(now)
	return string([]byte{timeBase32[d>>5&31], timeBase32[d&31]})
}

func dayNumber(t time.Time) int { return int(t.Unix()/int64(day/time.Second)) % timeSlots }

// checkTimestamp is libsrs2's srs_timestamp_check: a stamp from the
// future is one from a cycle ago, so it is too old.
func (r *Rewriter) checkTimestamp(ts string, now time.Time) error {
	if len(ts) != 2 {
		return fmt.Errorf("%w: timestamp %q", ErrMalformed, ts)
	}
	then := 0
	for i := 0; i < len(ts); i++ {
		v := strings.IndexByte(timeBase32, upper(ts[i]))
		if v < 0 {
			return fmt.Errorf("%w: timestamp %q", ErrMalformed, ts)
		}
		then = then<<5 | v
	}
	n := dayNumber(now)
	for n < then {
		n += timeSlots
	}
	if n > then+r.maxAge {
		return ErrExpired
	}
	return nil
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
