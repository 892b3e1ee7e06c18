package store

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/jackc/pgx/v5"

	"mailhost/address"
)

// AccessRule is a row of access_rules: a Postfix access(5) entry.
type AccessRule struct {
	Kind    string `db:"kind"`    // client, helo, sender, recipient
	Pattern string `db:"pattern"` // what matched
	Action  string `db:"action"`  // OK, REJECT, DISCARD or "nnn text"
}

// SessionRules are the access rules that apply to a transaction's client,
// HELO name and sender, most specific match of each kind, plus whether any
// recipient rule exists at all (so RCPT skips the lookup when none does).
type SessionRules struct {
	Client, Helo, Sender *AccessRule
	HasRecipientRules    bool
}

// ClientPatterns lists the client patterns that match ip, most specific
// first: the address, then every CIDR network holding it from the longest
// prefix, and for IPv4 Postfix's partial forms "1.2.3", "1.2", "1".
func ClientPatterns(ip netip.Addr) []string {
	ip = ip.Unmap()
	out := []string{strings.ToLower(ip.String())}
	min := 8
	if ip.Is6() {
		min = 16
	}
	for bits := ip.BitLen(); bits >= min; bits-- {
		p, err := ip.Prefix(bits)
		if err == nil {
			out = append(out, strings.ToLower(p.String()))
		}
	}
	if ip.Is4() {
		parts := strings.Split(ip.String(), ".")
		for n := 3; n >= 1; n-- {
			out = append(out, strings.Join(parts[:n], "."))
		}
	}
	return out
}

// DomainPatterns lists the patterns matching a host or domain name, most
// specific first: the name, then each parent as ".parent" and "parent"
// (Postfix parent_domain_matches_subdomains).
func DomainPatterns(name string) []string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" {
		return nil
	}
	out := []string{name}
	for i := strings.IndexByte(name, '.'); i >= 0; {
		parent := name[i+1:]
		out = append(out, "."+parent, parent)
		j := strings.IndexByte(parent, '.')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return out
}

// AddressPatterns lists the patterns matching an address, most specific
// first, as access(5) does: "user@domain", the domain patterns, "user@".
// The null sender matches "<>".
func AddressPatterns(addr string) []string {
	if addr == "" {
		return []string{"<>"}
	}
	addr = strings.ToLower(addr)
	local, domain := address.Split(addr)
	out := []string{addr}
	if domain != "" {
		out = append(out, "@"+domain)
		out = append(out, DomainPatterns(domain)...)
	}
	return append(out, local+"@")
}

const sessionRulesSQL = `
SELECT kind, pattern, action FROM access_rules
WHERE (kind = 'client' AND pattern = ANY($1))
   OR (kind = 'helo' AND pattern = ANY($2))
   OR (kind = 'sender' AND pattern = ANY($3))
UNION ALL
SELECT 'has_recipient', '', '' WHERE EXISTS (SELECT 1 FROM access_rules WHERE kind = 'recipient')`

// SessionRules returns the access rules for a client address, HELO name
// and sender, in one round trip.
func (s *Store) SessionRules(ctx context.Context, client netip.Addr, helo, sender string) (SessionRules, error) {
	cp, hp, sp := ClientPatterns(client), DomainPatterns(helo), AddressPatterns(sender)
	rows, _ := s.pool.Query(ctx, sessionRulesSQL, cp, hp, sp)
	rules, err := pgx.CollectRows(rows, pgx.RowToStructByName[AccessRule])
	if err != nil {
		return SessionRules{}, fmt.Errorf("store: access rules: %w", err)
	}
	var out SessionRules
	for _, r := range rules {
		switch r.Kind {
		case "has_recipient":
			out.HasRecipientRules = true
		case "client":
			out.Client = best(out.Client, r, cp)
		case "helo":
			out.Helo = best(out.Helo, r, hp)
		case "sender":
			out.Sender = best(out.Sender, r, sp)
		}
	}
	return out, nil
}

// RecipientRule returns the most specific recipient rule for addr, or
// ErrNotFound.
func (s *Store) RecipientRule(ctx context.Context, addr string) (AccessRule, error) {
	ps := AddressPatterns(addr)
	rows, _ := s.pool.Query(ctx, `SELECT kind, pattern, action FROM access_rules
		WHERE kind = 'recipient' AND pattern = ANY($1)`, ps)
	rules, err := pgx.CollectRows(rows, pgx.RowToStructByName[AccessRule])
	if err != nil {
		return AccessRule{}, fmt.Errorf("store: recipient access rule: %w", err)
	}
	var b *AccessRule
	for _, r := range rules {
		b = best(b, r, ps)
	}
	if b == nil {
		return AccessRule{}, ErrNotFound
	}
	return *b, nil
}

// best keeps the rule whose pattern comes first in the specificity order.
func best(cur *AccessRule, r AccessRule, order []string) *AccessRule {
	rank := func(p string) int {
		for i, o := range order {
			if o == p {
				return i
			}
		}
		return len(order)
	}
	if cur == nil || rank(r.Pattern) < rank(cur.Pattern) {
		return &r
	}
	return cur
}

// AccessRuleKinds returns the kinds that have at least one access rule, so
// that a server skips the lookups of kinds without any (the usual case).
func (s *Store) AccessRuleKinds(ctx context.Context) (map[string]bool, error) {
	rows, _ := s.pool.Query(ctx, `SELECT k FROM unnest(ARRAY['client', 'helo', 'sender', 'recipient']) k
		WHERE EXISTS (SELECT 1 FROM access_rules WHERE kind = k)`)
	kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: access rule kinds: %w", err)
	}
	out := make(map[string]bool, len(kinds))
	for _, k := range kinds {
		out[k] = true
	}
	return out, nil
}
