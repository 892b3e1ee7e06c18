package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"mailhost/dkimsign"
	"mailhost/store"
)

// DKIM keys (RFC 6376): every local domain has an RSA-2048 and an Ed25519
// key signing at a time (RFC 8463 recommends both, as not every verifier
// knows Ed25519 yet). Their selectors are named by the day they were made:
// r20261203 for RSA, e20261203 for Ed25519 (a letter is added for a
// second rotation on one day). The private keys stay in the database and
// are read only by the signer: no view here carries them.
//
// Life of a key: a domain's first pair is made with the domain and signs
// at once (until its TXT records are published, receivers find no key and
// treat the mail as unsigned, as before). RotateDKIM makes a pending pair;
// CheckDKIMRotations, run every dkim.check_interval by each node, makes a
// pending pair sign once both TXT records are seen in DNS, keeps the pair
// it replaces published for dkim.grace_period, then deletes it.

// DKIMKeyView is a DKIM key as the faces show it: public parts only.
type DKIMKeyView struct {
	Selector    string     `json:"selector"`
	Algorithm   string     `json:"algorithm"` // rsa or ed25519
	State       string     `json:"state"`     // pending, active or retiring
	Name        string     `json:"name"`      // where its TXT record goes: <selector>._domainkey.<domain>
	Record      string     `json:"record"`    // the TXT record's text
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetireAt    *time.Time `json:"retire_at,omitempty"`

	key string // the p= value
}

func dkimKeyView(k store.DKIMKey) DKIMKeyView {
	return DKIMKeyView{Selector: k.Selector, Algorithm: k.Algorithm, State: k.State,
		Name: k.Selector + "._domainkey." + k.Domain, Record: dkimsign.Record(k.Algorithm, k.PublicKey),
		CreatedAt: k.CreatedAt, ActivatedAt: k.ActivatedAt, RetireAt: k.RetireAt, key: k.PublicKey}
}

// newDKIMKeys makes a pair of keys (dkimsign.NewKeys), a Conflict when
// the day's selectors are all taken.
func newDKIMKeys(now time.Time, state string, taken map[string]bool) ([]store.NewDKIMKey, error) {
	keys, err := dkimsign.NewKeys(now, state, taken)
	if errors.Is(err, dkimsign.ErrTooManyKeys) {
		return nil, newErr(Conflict, "too many DKIM rotations today")
	}
	return keys, err
}

// DKIMKeys lists a domain's keys (pending, active, retiring).
func (s *Service) DKIMKeys(ctx context.Context, a Actor, domain string) ([]DKIMKeyView, error) {
	tx := s.st.Read()
	d, err := s.domainFor(ctx, tx, a, domain, false)
	if err != nil {
		return nil, err
	}
	ks, err := tx.DKIMKeys(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	out := make([]DKIMKeyView, len(ks))
	for i, k := range ks {
		out[i] = dkimKeyView(k)
	}
	return out, nil
}

// RotateDKIM makes a new pending pair of keys for a local domain and
// returns them; they sign once CheckDKIMRotations sees their TXT records.
// A rotation already waiting is a Conflict. Super-admins and the domain's
// admins may rotate.
func (s *Service) RotateDKIM(ctx context.Context, a Actor, domain string) ([]DKIMKeyView, error) {
	var out []DKIMKeyView
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		d, err := s.domainFor(ctx, tx, a, domain, true)
		if err != nil {
			return err
		}
		if d.Kind != "local" {
			return newErr(Conflict, "%s is a relay domain: it sends no mail and has no DKIM keys", d.Name)
		}
		old, err := tx.DKIMKeys(ctx, d.ID)
		if err != nil {
			return err
		}
		taken := map[string]bool{}
		for _, k := range old {
			if k.State == "pending" {
				return newErr(Conflict, "a rotation of %s waits for its DNS records already (selectors %s)", d.Name, k.Selector)
			}
			taken[k.Selector] = true
		}
		// Generating under the domain's lock keeps two rotations from
		// racing; it takes a fraction of a second.
		keys, err := newDKIMKeys(s.opts.Now(), "pending", taken)
		if err != nil {
			return err
		}
		if err := tx.InsertDKIMKeys(ctx, d.ID, keys...); err != nil {
			return conflict(err, "a rotation of %s is under way", d.Name)
		}
		ks, err := tx.DKIMKeys(ctx, d.ID)
		if err != nil {
			return err
		}
		for _, k := range ks {
			if k.State == "pending" {
				out = append(out, dkimKeyView(k))
			}
		}
		return s.audit(ctx, tx, a, "rotate", "dkim", d.Name, d.Name, nil, out)
	})
	return out, err
}

// addFirstDKIMKeys gives a new local domain its signing pair, in the
// transaction that inserts it.
func (s *Service) addFirstDKIMKeys(ctx context.Context, tx *store.Tx, d store.Domain, keys []store.NewDKIMKey) error {
	if d.Kind != "local" {
		return nil
	}
	return tx.InsertDKIMKeys(ctx, d.ID, keys...)
}

// EnsureDKIMKeys gives every local domain without an active key a
// signing pair: the domains made before migration 0010 (SQL cannot make
// keys). `mailhost migrate` and `mailhost serve` run it after the
// migrations. It returns the domains that got keys.
func (s *Service) EnsureDKIMKeys(ctx context.Context) ([]string, error) {
	ds, err := s.st.Read().DomainsWithoutDKIM(ctx)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, d := range ds {
		made, err := s.ensureDKIMKeys(ctx, d)
		if err != nil {
			return done, err
		}
		if made {
			done = append(done, d.Name)
		}
	}
	return done, nil
}

// ensureDKIMKeys gives local domain d an active pair of keys unless it
// has one, under the domain row's lock (so that nodes starting at once
// make one pair); it reports whether it made them.
func (s *Service) ensureDKIMKeys(ctx context.Context, d store.Domain) (bool, error) {
	keys, err := newDKIMKeys(s.opts.Now(), "active", nil)
	if err != nil {
		return false, err
	}
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		cur, err := tx.DomainByID(ctx, d.ID, true)
		if err != nil {
			return err
		}
		if cur.Kind != "local" {
			return errDKIMDone
		}
		old, err := tx.DKIMKeys(ctx, d.ID)
		if err != nil {
			return err
		}
		taken := map[string]bool{}
		for _, k := range old {
			if k.State == "active" {
				return errDKIMDone // another node got there first
			}
			taken[k.Selector] = true
		}
		if taken[keys[0].Selector] || taken[keys[1].Selector] {
			// Old keys of today (retiring): take the next letter.
			if keys, err = newDKIMKeys(s.opts.Now(), "active", taken); err != nil {
				return err
			}
		}
		if err := tx.InsertDKIMKeys(ctx, d.ID, keys...); err != nil {
			return err
		}
		return s.audit(ctx, tx, System(), "create", "dkim", d.Name, d.Name, nil, map[string]string{
			"rsa": keys[0].Selector, "ed25519": keys[1].Selector})
	})
	switch {
	case errors.Is(err, errDKIMDone), errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("admin: dkim keys of %s: %w", d.Name, err)
	}
	return true, nil
}

var errDKIMDone = errors.New("keys exist")

// CheckDKIMRotations makes pending keys sign once the TXT records of both
// keys of a domain's pending pair are in DNS as the DNS page shows them,
// and deletes retiring keys whose grace period ended. Every node may run
// it: each step is one transaction that finds nothing to do the second
// time. It returns the selectors it activated and retired.
func (s *Service) CheckDKIMRotations(ctx context.Context) (activated, retired []string, err error) {
	pending, err := s.st.Read().DKIMPendingKeys(ctx)
	if err != nil {
		return nil, nil, err
	}
	byDomain := map[int64][]store.DKIMKey{}
	var order []int64
	for _, k := range pending {
		if byDomain[k.DomainID] == nil {
			order = append(order, k.DomainID)
		}
		byDomain[k.DomainID] = append(byDomain[k.DomainID], k)
	}
	now := s.opts.Now()
	for _, id := range order {
		keys := byDomain[id]
		ok := true
		for _, k := range keys {
			if s.dkimPublished(ctx, k) != VerdictOK {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		ids := make([]int64, len(keys))
		for i, k := range keys {
			ids[i] = k.ID
		}
		n, err := s.st.ActivateDKIMKeys(ctx, id, ids, now.Add(s.opts.DNS.DKIMGrace))
		if err != nil {
			return activated, retired, err
		}
		if n > 0 {
			for _, k := range keys {
				activated = append(activated, k.Selector+"._domainkey."+k.Domain)
			}
			s.log.Info("dkim: new keys sign", "domain", keys[0].Domain, "selectors", selectorList(keys))
		}
	}
	gone, err := s.st.DeleteRetiredDKIMKeys(ctx, now)
	if err != nil {
		return activated, retired, err
	}
	for _, k := range gone {
		retired = append(retired, k.Selector+"._domainkey."+k.Domain)
		s.log.Info("dkim: key retired, its TXT record may be removed", "domain", k.Domain, "selector", k.Selector)
	}
	return activated, retired, nil
}

func selectorList(ks []store.DKIMKey) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = k.Selector
	}
	return strings.Join(s, ",")
}

// dkimPublished looks up a key's TXT record and says whether it carries
// the key.
func (s *Service) dkimPublished(ctx context.Context, k store.DKIMKey) string {
	if s.opts.Resolver == nil {
		return VerdictError
	}
	found, err := s.opts.Resolver.TXT(ctx, k.Selector+"._domainkey."+k.Domain)
	v, _ := verdict(err, found, func(txt string) bool { return dkimRecordMatches(txt, k.Algorithm, k.PublicKey) })
	return v
}

// dkimRecordMatches says whether a DKIM TXT record publishes key: the same
// p= and k= (rsa when absent, RFC 6376 3.6.1), white space ignored.
func dkimRecordMatches(txt, algorithm, key string) bool {
	tags := map[string]string{"k": "rsa"}
	for _, part := range strings.Split(txt, ";") {
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		tags[strings.TrimSpace(name)] = strings.Join(strings.Fields(value), "")
	}
	return tags["p"] == key && tags["k"] == algorithm && (tags["v"] == "" || tags["v"] == "DKIM1")
}
