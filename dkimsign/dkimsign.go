// Package dkimsign adds the DKIM signatures (RFC 6376) of a hosted
// domain to a message: one with its RSA key and one with its Ed25519 key
// (RFC 8463), relaxed/relaxed, with the header fields that matter signed
// and the ones a forger would add oversigned. It signs with
// emersion/go-msgauth; the keys come from the database through Keys and
// are kept for a short while per sender domain. RSA signatures are made
// by OpenSSL's libcrypto when the build has cgo (rsa_openssl.go).
package dkimsign

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"mailhost/address"
	"mailhost/mailheader"
	"mailhost/store"
)

// Keys is what the signer needs from the database; *store.Store
// satisfies it.
type Keys interface {
	// DKIMSigningKeys returns the active keys of the local domains named,
	// the longest name first.
	DKIMSigningKeys(ctx context.Context, names []string) ([]store.DKIMSigningKey, error)
}

var _ Keys = (*store.Store)(nil)

// DefaultCacheTTL is how long the keys of a sender domain (or their
// absence) are kept: a new domain, or a rotation's new keys, sign within
// this time on every node.
const DefaultCacheTTL = time.Minute

// maxCached bounds the sender domains kept; beyond it the cache starts
// over (most mail comes from few domains).
const maxCached = 10000

// Signer signs messages. It is safe for concurrent use.
type Signer struct {
	keys Keys
	ttl  time.Duration
	log  *slog.Logger
	now  func() time.Time

	// busy holds a place per signature being computed: at most
	// GOMAXPROCS-1 at once, so that an RSA signature (some milliseconds
	// of CPU) never takes every processor from the goroutines that move
	// the sessions' bytes and the group commits.
	busy chan struct{}

	mu     sync.Mutex
	cache  map[string]entry         // From: domain -> its keys
	parsed map[string]crypto.Signer // domain/selector -> parsed private key
}

type entry struct {
	at     time.Time
	domain string // the signing domain (d=): the sender's domain or a parent of it
	keys   []signingKey
}

type signingKey struct {
	selector string
	signer   crypto.Signer
}

// New returns a signer over keys; ttl 0 is DefaultCacheTTL, a negative
// ttl caches nothing (tests).
func New(keys Keys, ttl time.Duration, log *slog.Logger) *Signer {
	if ttl == 0 {
		ttl = DefaultCacheTTL
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Signer{keys: keys, ttl: ttl, log: log, now: time.Now, busy: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1)),
		cache: map[string]entry{}, parsed: map[string]crypto.Signer{}}
}

// Sign returns msg (CRLF line ends) with DKIM-Signature fields prepended
// when its From: domain, or a parent of it, is a local domain with active
// keys (so a bounce From: MAILER-DAEMON@mail.example.com is signed for
// example.com, which DMARC's relaxed alignment accepts, RFC 7489 3.1.1).
// A message whose From: is not one address's domain, or is no hosted
// domain's, comes back unchanged. The error is a failed key lookup or
// signature; msg is then returned unchanged too.
func (s *Signer) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	h := mailheader.Parse(msg)
	domain := fromDomain(&h)
	if domain == "" {
		return msg, nil
	}
	e, err := s.lookup(ctx, domain)
	if err != nil || len(e.keys) == 0 {
		return msg, err
	}
	select {
	case s.busy <- struct{}{}:
		defer func() { <-s.busy }()
	case <-ctx.Done():
		return msg, fmt.Errorf("dkimsign: %s: %w", e.domain, ctx.Err())
	}
	fields := headerKeys(&h)
	signers := make([]*dkim.Signer, len(e.keys))
	writers := make([]io.Writer, len(e.keys))
	for i, k := range e.keys {
		sg, err := dkim.NewSigner(&dkim.SignOptions{
			Domain: e.domain, Selector: k.selector, Signer: k.signer,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed,
			BodyCanonicalization:   dkim.CanonicalizationRelaxed,
			HeaderKeys:             fields,
		})
		if err != nil {
			closeAll(signers[:i])
			return msg, fmt.Errorf("dkimsign: %s: %w", e.domain, err)
		}
		signers[i], writers[i] = sg, sg
	}
	if _, err := io.MultiWriter(writers...).Write(msg); err != nil {
		closeAll(signers)
		return msg, fmt.Errorf("dkimsign: %s: %w", e.domain, err)
	}
	var sigs []byte
	for _, sg := range signers {
		if err := sg.Close(); err != nil {
			closeAll(signers)
			return msg, fmt.Errorf("dkimsign: %s: %w", e.domain, err)
		}
		sigs = append(sigs, sg.Signature()...)
	}
	return append(sigs, msg...), nil
}

func closeAll(ss []*dkim.Signer) {
	for _, s := range ss {
		s.Close()
	}
}

// fromDomain is the domain of the From: field's one address, or of all
// its addresses when they share one (normalised), else "".
func fromDomain(h *mailheader.Header) string {
	if h.Err != nil && h.Size == 0 {
		return ""
	}
	addrs, err := h.Addresses("From")
	if err != nil || len(addrs) == 0 {
		return ""
	}
	var domain string
	for _, a := range addrs {
		n, err := address.Normalize(a)
		if err != nil {
			return ""
		}
		_, d := address.Split(n)
		if domain != "" && d != domain {
			return ""
		}
		domain = d
	}
	return domain
}

// lookup returns the keys for mail from domain, cached.
func (s *Signer) lookup(ctx context.Context, domain string) (entry, error) {
	now := s.now()
	s.mu.Lock()
	e, ok := s.cache[domain]
	s.mu.Unlock()
	if ok && now.Sub(e.at) < s.ttl {
		return e, nil
	}
	names := parents(domain)
	rows, err := s.keys.DKIMSigningKeys(ctx, names)
	if err != nil {
		return entry{}, fmt.Errorf("dkimsign: keys of %s: %w", domain, err)
	}
	e = entry{at: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rows {
		if e.domain != "" && r.Domain != e.domain {
			break // a parent's keys: the closest domain with keys signs
		}
		e.domain = r.Domain
		sg, err := s.parse(r)
		if err != nil {
			s.log.Error("dkim: unreadable private key", "domain", r.Domain, "selector", r.Selector, "err", err)
			continue
		}
		e.keys = append(e.keys, signingKey{selector: r.Selector, signer: sg})
	}
	if len(s.cache) >= maxCached {
		clear(s.cache)
		clear(s.parsed)
	}
	s.cache[domain] = e
	return e, nil
}

// parse returns the parsed private key of r, parsed once (an RSA key
// takes a while, and libcrypto's self-check two signatures, some ms in
// all, once per key). Called with s.mu held.
func (s *Signer) parse(r store.DKIMSigningKey) (crypto.Signer, error) {
	k := string(r.PrivateKey) // a selector may come back with another key (a domain made again)
	if sg, ok := s.parsed[k]; ok {
		return sg, nil
	}
	key, err := x509.ParsePKCS8PrivateKey(r.PrivateKey)
	if err != nil {
		return nil, err
	}
	sg, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key of type %T", key)
	}
	if rk, ok := key.(*rsa.PrivateKey); ok {
		var err error
		if sg, err = rsaSigner(r.PrivateKey, rk); err != nil && !errors.Is(err, errNoLibcrypto) {
			s.log.Warn("dkim: signing with crypto/rsa, not libcrypto", "domain", r.Domain, "selector", r.Selector, "err", err)
		}
	}
	s.parsed[k] = sg
	return sg, nil
}

// parents returns domain and its parent domains of two labels or more:
// a.b.example.com, b.example.com, example.com.
func parents(domain string) []string {
	out := []string{domain}
	for {
		_, rest, ok := strings.Cut(domain, ".")
		if !ok || !strings.Contains(rest, ".") {
			return out
		}
		out = append(out, rest)
		domain = rest
	}
}

// signed are the header fields signed as often as they occur, oversigned
// those signed once more than they occur, so that a field of that name
// added later breaks the signature (RFC 6376 5.4.2, 8.15): the fields a
// reader sees and a forwarder or attacker would like to add or replace.
var (
	signed = []string{"Sender", "List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post",
		"List-Subscribe", "List-Post", "List-Owner", "List-Archive", "Resent-Date", "Resent-From",
		"Resent-To", "Resent-Cc", "Resent-Message-ID", "Content-Language", "Autocrypt"}
	oversigned = []string{"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To",
		"In-Reply-To", "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"}
)

// headerKeys is the h= list for a message with header h.
func headerKeys(h *mailheader.Header) []string {
	count := map[string]int{}
	for f := h.Fields(); f.Next(); {
		count[strings.ToLower(f.Key())]++
	}
	var out []string
	for _, name := range oversigned {
		for range count[strings.ToLower(name)] + 1 {
			out = append(out, name)
		}
	}
	for _, name := range signed {
		for range count[strings.ToLower(name)] {
			out = append(out, name)
		}
	}
	return out
}
