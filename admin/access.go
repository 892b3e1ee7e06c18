package admin

import (
	"context"
	"errors"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"mailhost/address"
	"mailhost/store"
)

// Access rules are Postfix access(5) entries: a client address or network,
// a HELO name, a sender or a recipient pattern, and what the SMTP server
// does when it matches. A super-admin manages every rule; a domain admin
// manages the recipient rules of its domains' addresses ("user@domain",
// "@domain") with the actions that act on that recipient alone.

// The kinds of access rules, in the order the SMTP server consults them.
const (
	AccessClient    = "client"
	AccessHelo      = "helo"
	AccessSender    = "sender"
	AccessRecipient = "recipient"
)

// The actions of an access rule (Postfix access(5)).
const (
	ActionOK      = "OK"      // accept: skip the later access checks and the DNS block lists
	ActionDunno   = "DUNNO"   // as if nothing matched: an exception to a broader pattern
	ActionReject  = "REJECT"  // refuse: 554 5.7.1, or the rule's 5xx code
	ActionDefer   = "DEFER"   // refuse for now: 450 4.7.1, or the rule's 4xx code
	ActionDiscard = "DISCARD" // accept and drop the whole message
	ActionHold    = "HOLD"    // accept into the queue on hold
)

// Default reply codes of REJECT and DEFER (Postfix access_map_reject_code,
// access_map_defer_code).
const (
	DefaultRejectCode = 554
	DefaultDeferCode  = 450
)

// Limits of an access rule's texts: the reply text must fit an SMTP reply
// line (RFC 5321 4.5.3.1.5: 512 octets) with the code and the matched
// address before it.
const (
	MaxAccessText    = 200
	MaxAccessComment = 500
)

// AccessRuleInput is the body of an access rule create (Kind, Pattern and
// Action required; Code alone stands for REJECT or DEFER) or update (only
// Action, Code, Text and Comment change; a new Action without Code or Text
// clears them).
type AccessRuleInput struct {
	Kind    *string `json:"kind"`    // client, helo, sender, recipient
	Pattern *string `json:"pattern"` // what to match; see the README's access rules section
	Action  *string `json:"action"`  // OK, DUNNO, REJECT, DEFER, DISCARD, HOLD
	Code    *int    `json:"code"`    // REJECT: 5xx (554 by default); DEFER: 4xx (450 by default)
	Text    *string `json:"text"`    // REJECT, DEFER: the reply's text; DISCARD, HOLD: logged
	Comment *string `json:"comment"` // for the admins
}

// AccessRuleView is an access rule as the faces show it.
type AccessRuleView struct {
	ID      int64  `json:"id"`
	Kind    string `json:"kind"`
	Pattern string `json:"pattern"`
	Action  string `json:"action"`
	Code    int    `json:"code"` // REJECT and DEFER: the reply code; 0 otherwise
	Text    string `json:"text"`
	// Rule is the action as a Postfix access(5) right-hand side: "OK",
	// "REJECT go away", "450 4.7.1 try later".
	Rule string `json:"rule"`
	// Domain is, for a recipient rule of one domain's addresses, that
	// domain: its admins may manage the rule.
	Domain    string    `json:"domain"`
	Comment   string    `json:"comment"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func accessRuleView(r store.AccessRuleRecord) AccessRuleView {
	act, code, text := parseRule(r.Action)
	return AccessRuleView{ID: r.ID, Kind: r.Kind, Pattern: r.Pattern, Action: act, Code: code, Text: text, Rule: r.Action,
		Domain: ruleDomain(r.Kind, r.Pattern), Comment: r.Comment, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// parseRule splits a stored right-hand side into action, code and text.
func parseRule(rhs string) (action string, code int, text string) {
	verb, text, _ := strings.Cut(rhs, " ")
	switch verb {
	case ActionReject:
		return verb, DefaultRejectCode, text
	case ActionDefer:
		return verb, DefaultDeferCode, text
	}
	if n, err := strconv.Atoi(verb); err == nil && len(verb) == 3 {
		if n/100 == 4 {
			return ActionDefer, n, text
		}
		return ActionReject, n, text
	}
	return verb, 0, text
}

// formatRule is the right-hand side stored for an action: a REJECT or
// DEFER with a code other than the default is stored as "NNN text".
func formatRule(action string, code int, text string) string {
	head := action
	if (action == ActionReject && code != DefaultRejectCode || action == ActionDefer && code != DefaultDeferCode) && code != 0 {
		head = strconv.Itoa(code)
	}
	if text == "" {
		return head
	}
	return head + " " + text
}

// ruleDomain is the domain of a recipient rule's "user@domain" or
// "@domain" pattern, "" for any other rule.
func ruleDomain(kind, pattern string) string {
	if kind != AccessRecipient {
		return ""
	}
	_, dom := address.Split(pattern)
	return dom
}

func validKind(k string) bool {
	switch k {
	case AccessClient, AccessHelo, AccessSender, AccessRecipient:
		return true
	}
	return false
}

// enhancedRE is an RFC 3463 status code at the start of a reply text.
var enhancedRE = regexp.MustCompile(`^([245])\.[0-9]{1,3}\.[0-9]{1,3}( |$)`)

// checkAction validates an action with its code and text and returns the
// right-hand side to store.
func checkAction(f *fields, action string, code *int, text string) string {
	action = strings.ToUpper(strings.TrimSpace(action))
	c := 0
	if code != nil {
		c = *code
	}
	if action == "" && c != 0 {
		action = ActionReject
		if c/100 == 4 {
			action = ActionDefer
		}
	}
	switch action {
	case "":
		f.add("action", "is required")
		return ""
	case ActionOK, ActionDunno, ActionDiscard, ActionHold:
		if c != 0 {
			f.add("code", "only REJECT and DEFER take a reply code")
		}
		if text != "" && (action == ActionOK || action == ActionDunno) {
			f.add("text", "%s takes no text", action)
		}
	case ActionReject:
		if c != 0 && (c < 500 || c > 599) {
			f.add("code", "a REJECT's code must be from 500 to 599")
		}
	case ActionDefer:
		if c != 0 && (c < 400 || c > 499) {
			f.add("code", "a DEFER's code must be from 400 to 499")
		}
	default:
		f.add("action", "must be OK, DUNNO, REJECT, DEFER, DISCARD or HOLD")
		return ""
	}
	if len(text) > MaxAccessText {
		f.add("text", "is longer than %d characters", MaxAccessText)
	}
	for _, r := range text {
		if r < 0x20 || r > 0x7e {
			f.add("text", "must be printable ASCII: it is sent in an SMTP reply")
			break
		}
	}
	if m := enhancedRE.FindStringSubmatch(text); m != nil && (action == ActionReject || action == ActionDefer) {
		class := "5"
		if action == ActionDefer {
			class = "4"
		}
		if m[1] != class {
			f.add("text", "starts with the status code %s, which does not fit a %s (%s.x.x)", strings.TrimSpace(m[0]), action, class)
		}
	}
	return formatRule(action, c, text)
}

func checkComment(f *fields, c string) {
	if len(c) > MaxAccessComment {
		f.add("comment", "is longer than %d characters", MaxAccessComment)
	}
	if strings.ContainsAny(c, "\r\n\x00") {
		f.add("comment", "must be one line")
	}
}

// normPattern normalises an access rule's pattern for its kind, as the
// SMTP server looks it up (store.ClientPatterns, DomainPatterns,
// AddressPatterns).
func normPattern(kind, in string) (string, error) {
	in = strings.TrimSpace(in)
	if in == "" {
		return "", errors.New("is required")
	}
	if strings.ContainsAny(in, " \t\r\n") {
		return "", errors.New("must not contain spaces")
	}
	switch kind {
	case AccessClient:
		return clientPattern(in)
	case AccessHelo:
		return heloPattern(in)
	case AccessSender, AccessRecipient:
		if in == "<>" {
			if kind == AccessRecipient {
				return "", errors.New("<> (the null sender) is a sender pattern")
			}
			return in, nil
		}
		return addressPattern(in)
	}
	return "", errors.New("needs a valid kind")
}

// octetsRE is Postfix's partial IPv4 form: one to three leading octets.
var octetsRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){0,2}$`)

func clientPattern(in string) (string, error) {
	if ip, err := netip.ParseAddr(in); err == nil {
		if ip.Zone() != "" {
			return "", errors.New("must not have a zone")
		}
		return strings.ToLower(ip.Unmap().String()), nil
	}
	if p, err := netip.ParsePrefix(in); err == nil {
		if p.Addr().Is4In6() {
			return "", errors.New("give an IPv4 network as IPv4, such as 192.0.2.0/24")
		}
		if m := p.Masked(); m != p {
			return "", errors.New("has host bits set; the network is " + m.String())
		}
		return strings.ToLower(p.String()), nil
	}
	if octetsRE.MatchString(in) {
		for _, o := range strings.Split(in, ".") {
			if n, _ := strconv.Atoi(o); n > 255 {
				return "", errors.New("has an octet over 255")
			}
		}
		return in, nil
	}
	return "", errors.New("must be an IP address, a network such as 192.0.2.0/24 or 2001:db8::/32, or the first octets of an IPv4 address such as 192.0.2")
}

func heloPattern(in string) (string, error) {
	if ip, err := netip.ParseAddr(in); err == nil && ip.Zone() == "" {
		return ip.Unmap().String(), nil // a bare address, as some clients send
	}
	if strings.HasPrefix(in, "[") {
		lit, ok := strings.CutSuffix(in[1:], "]")
		v6, isV6 := strings.CutPrefix(strings.ToLower(lit), "ipv6:")
		ip, err := netip.ParseAddr(v6)
		if !ok || err != nil || ip.Zone() != "" || isV6 != ip.Is6() {
			return "", errors.New("is not an address literal such as [192.0.2.1] or [IPv6:2001:db8::1]")
		}
		if isV6 {
			return "[ipv6:" + ip.String() + "]", nil
		}
		return "[" + ip.String() + "]", nil
	}
	dot := ""
	if strings.HasPrefix(in, ".") {
		dot, in = ".", in[1:]
	}
	d, err := address.Domain(in)
	if err != nil && !strings.Contains(strings.TrimSuffix(in, "."), ".") {
		// A single label ("localhost"), as HELO names often are.
		if d2, err2 := address.Domain(in + ".x"); err2 == nil {
			d, err = strings.TrimSuffix(d2, ".x"), nil
		}
	}
	if err != nil {
		return "", errors.New(reason(err))
	}
	return dot + d, nil
}

// addressPattern normalises a sender or recipient pattern: user@domain,
// @domain, domain, .domain or user@.
func addressPattern(in string) (string, error) {
	switch {
	case strings.HasPrefix(in, "@"):
		d, err := address.Domain(in[1:])
		if err != nil {
			return "", errors.New(reason(err))
		}
		return "@" + d, nil
	case strings.HasSuffix(in, "@"):
		l, err := address.LocalPart(in[:len(in)-1])
		if err != nil {
			return "", errors.New(reason(err))
		}
		return l + "@", nil
	case strings.Contains(in, "@"):
		a, err := address.Normalize(in)
		if err != nil {
			return "", errors.New(reason(err))
		}
		return a, nil
	}
	dot := ""
	if strings.HasPrefix(in, ".") {
		dot, in = ".", in[1:]
	}
	d, err := address.Domain(in)
	if err != nil {
		return "", errors.New(reason(err))
	}
	return dot + d, nil
}

// forDomainAdmin checks what only a super-admin may do with a rule: rules
// other than a recipient's, patterns other than an address or "@domain"
// of one of the actor's domains (checked later, in the transaction), and
// the actions that act on the whole message, so on other domains'
// recipients too.
func forDomainAdmin(f *fields, a Actor, kind, pattern, rule string) error {
	if a.Superadmin {
		return nil
	}
	if kind != AccessRecipient {
		return newErr(Forbidden, "only a super-admin may manage client, HELO and sender rules")
	}
	if pattern != "" && ruleDomain(kind, pattern) == "" {
		f.add("pattern", "must be an address or @domain of a domain you manage")
	}
	if act, _, _ := parseRule(rule); act == ActionDiscard || act == ActionHold {
		f.add("action", "%s acts on the whole message, also for other domains' recipients: only a super-admin may use it", act)
	}
	return nil
}

// ruleAllowed reports whether a may see and change rule r.
// With lock, the rule's domain row is locked, so that a rule is never
// created for a domain being deleted (which deletes its rules).
func ruleAllowed(ctx context.Context, tx *store.Tx, a Actor, kind, pattern string, lock bool) (bool, error) {
	dom := ruleDomain(kind, pattern)
	if dom == "" || a.Superadmin && !lock {
		return a.Superadmin, nil
	}
	d, err := tx.DomainByName(ctx, dom, lock)
	if errors.Is(err, store.ErrNotFound) {
		return a.Superadmin, nil
	}
	if err != nil {
		return false, err
	}
	return a.canDomain(d.ID), nil
}

// CreateAccessRule adds an access rule.
func (s *Service) CreateAccessRule(ctx context.Context, a Actor, in AccessRuleInput) (AccessRuleView, error) {
	var f fields
	kind := ""
	if in.Kind == nil || *in.Kind == "" {
		f.add("kind", "is required")
	} else if k := strings.ToLower(strings.TrimSpace(*in.Kind)); !validKind(k) {
		f.add("kind", "must be client, helo, sender or recipient")
	} else {
		kind = k
	}
	pattern := ""
	if in.Pattern == nil {
		f.add("pattern", "is required")
	} else if kind != "" {
		p, err := normPattern(kind, *in.Pattern)
		if err != nil {
			f.add("pattern", "%s", err)
		}
		pattern = p
	}
	rule := checkAction(&f, deref(in.Action), in.Code, strings.TrimSpace(deref(in.Text)))
	comment := strings.TrimSpace(deref(in.Comment))
	checkComment(&f, comment)
	if kind != "" {
		if err := forDomainAdmin(&f, a, kind, pattern, rule); err != nil {
			return AccessRuleView{}, err
		}
	}
	if err := f.err(); err != nil {
		return AccessRuleView{}, err
	}
	var out store.AccessRuleRecord
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		ok, err := ruleAllowed(ctx, tx, a, kind, pattern, true)
		if err != nil {
			return err
		}
		if !ok {
			return invalid("pattern", "must be an address or @domain of a domain you manage")
		}
		out, err = tx.InsertAccessRule(ctx, store.AccessRuleRecord{Kind: kind, Pattern: pattern, Action: rule, Comment: comment})
		if err != nil {
			return conflict(err, "there is already a %s rule for %s", kind, pattern)
		}
		v := accessRuleView(out)
		return s.audit(ctx, tx, a, "create", "access_rule", ruleObject(v), v.Domain, nil, v)
	})
	if err != nil {
		return AccessRuleView{}, err
	}
	return accessRuleView(out), nil
}

// ruleObject names a rule in the audit log: "recipient @example.com".
func ruleObject(v AccessRuleView) string { return v.Kind + " " + v.Pattern }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// accessRuleFor returns the rule with that id if a may see it.
func (s *Service) accessRuleFor(ctx context.Context, tx *store.Tx, a Actor, id string, lock bool) (store.AccessRuleRecord, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return store.AccessRuleRecord{}, newErr(NotFound, "no access rule %s", id)
	}
	r, err := tx.AccessRuleByID(ctx, n, lock)
	if err != nil {
		return store.AccessRuleRecord{}, notFound(err, "no access rule %s", id)
	}
	ok, err := ruleAllowed(ctx, tx, a, r.Kind, r.Pattern, false)
	if err != nil {
		return store.AccessRuleRecord{}, err
	}
	if !ok {
		return store.AccessRuleRecord{}, newErr(NotFound, "no access rule %s", id)
	}
	return r, nil
}

// AccessRule returns one access rule by id.
func (s *Service) AccessRule(ctx context.Context, a Actor, id string) (AccessRuleView, error) {
	r, err := s.accessRuleFor(ctx, s.st.Read(), a, id, false)
	if err != nil {
		return AccessRuleView{}, err
	}
	return accessRuleView(r), nil
}

// FindAccessRule returns the access rule of a kind and pattern (as the
// command line names them).
func (s *Service) FindAccessRule(ctx context.Context, a Actor, kind, pattern string) (AccessRuleView, error) {
	kind = strings.ToLower(strings.TrimSpace(kind))
	if !validKind(kind) {
		return AccessRuleView{}, invalid("kind", "must be client, helo, sender or recipient")
	}
	p, err := normPattern(kind, pattern)
	if err != nil {
		return AccessRuleView{}, invalid("pattern", "%s", err)
	}
	tx := s.st.Read()
	r, err := tx.AccessRuleByKey(ctx, kind, p)
	if err != nil {
		return AccessRuleView{}, notFound(err, "no %s rule for %s", kind, p)
	}
	if ok, err := ruleAllowed(ctx, tx, a, r.Kind, r.Pattern, false); err != nil || !ok {
		if err == nil {
			err = newErr(NotFound, "no %s rule for %s", kind, p)
		}
		return AccessRuleView{}, err
	}
	return accessRuleView(r), nil
}

// AccessRuleParams filter the list of access rules.
type AccessRuleParams struct {
	Kind   string // client, helo, sender, recipient; "" for all
	Domain string // only the recipient rules of this domain's addresses
	ListParams
}

// AccessRules lists access rules in the order the SMTP server consults
// their kinds, then by pattern: all for a super-admin, the recipient rules
// of its domains for a domain admin.
func (s *Service) AccessRules(ctx context.Context, a Actor, p AccessRuleParams) (List[AccessRuleView], error) {
	page, err := p.page()
	if err != nil {
		return List[AccessRuleView]{}, err
	}
	var f fields
	kind := strings.ToLower(strings.TrimSpace(p.Kind))
	if kind != "" && !validKind(kind) {
		f.add("kind", "must be client, helo, sender or recipient")
	}
	dom := strings.TrimSpace(p.Domain)
	if dom != "" {
		if dom, err = address.Domain(dom); err != nil {
			f.add("domain", "%s", reason(err))
		}
	}
	if err := f.err(); err != nil {
		return List[AccessRuleView]{}, err
	}
	tx := s.st.Read()
	filter := store.AccessRuleFilter{Kind: kind, Q: p.Q, Domain: dom, Page: page}
	if !a.Superadmin {
		names, err := tx.DomainNames(ctx, a.DomainIDs)
		if err != nil {
			return List[AccessRuleView]{}, err
		}
		filter.Domains = append([]string{}, names...)
	}
	filter.Limit++
	rows, err := tx.ListAccessRules(ctx, filter)
	if err != nil {
		return List[AccessRuleView]{}, err
	}
	return finish(rows, page.Limit, func(r store.AccessRuleRecord) string { return r.Kind + " " + r.Pattern }, accessRuleView), nil
}

// UpdateAccessRule changes a rule's action, code, text or comment.
func (s *Service) UpdateAccessRule(ctx context.Context, a Actor, id string, in AccessRuleInput) (AccessRuleView, error) {
	var out store.AccessRuleRecord
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		r, err := s.accessRuleFor(ctx, tx, a, id, true)
		if err != nil {
			return err
		}
		var f fields
		if in.Kind != nil && strings.ToLower(strings.TrimSpace(*in.Kind)) != r.Kind {
			f.add("kind", "cannot be changed: delete the rule and create another")
		}
		if in.Pattern != nil {
			if p, err := normPattern(r.Kind, *in.Pattern); err != nil || p != r.Pattern {
				f.add("pattern", "cannot be changed: delete the rule and create another")
			}
		}
		old := r
		act, code, text := parseRule(r.Action)
		switch {
		case in.Action != nil:
			act, code, text = *in.Action, 0, ""
			if in.Code != nil {
				code = *in.Code
			}
		case in.Code != nil:
			act, code = "", *in.Code // the code says REJECT or DEFER
		}
		if in.Text != nil {
			text = strings.TrimSpace(*in.Text)
		}
		r.Action = checkAction(&f, act, &code, text)
		if in.Comment != nil {
			r.Comment = strings.TrimSpace(*in.Comment)
			checkComment(&f, r.Comment)
		}
		if err := forDomainAdmin(&f, a, r.Kind, r.Pattern, r.Action); err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		out, err = tx.UpdateAccessRule(ctx, r)
		if err != nil {
			return err
		}
		v := accessRuleView(out)
		return s.audit(ctx, tx, a, "update", "access_rule", ruleObject(v), v.Domain, accessRuleView(old), v)
	})
	if err != nil {
		return AccessRuleView{}, err
	}
	return accessRuleView(out), nil
}

// DeleteAccessRule removes an access rule.
func (s *Service) DeleteAccessRule(ctx context.Context, a Actor, id string) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		r, err := s.accessRuleFor(ctx, tx, a, id, true)
		if err != nil {
			return err
		}
		if err := tx.DeleteAccessRule(ctx, r.ID); err != nil {
			return err
		}
		v := accessRuleView(r)
		return s.audit(ctx, tx, a, "delete", "access_rule", ruleObject(v), v.Domain, v, nil)
	})
}

// deleteDomainPolicy removes, with the domain, the recipient rules and the
// relocated entries of its addresses, one audit row each: a domain added
// again later starts without them.
func (s *Service) deleteDomainPolicy(ctx context.Context, tx *store.Tx, a Actor, domain string) error {
	rules, err := tx.DeleteDomainAccessRules(ctx, domain)
	if err != nil {
		return err
	}
	for _, r := range rules {
		v := accessRuleView(r)
		if err := s.audit(ctx, tx, a, "delete", "access_rule", ruleObject(v), domain, v, nil); err != nil {
			return err
		}
	}
	moved, err := tx.DeleteDomainRelocated(ctx, domain)
	if err != nil {
		return err
	}
	for _, r := range moved {
		if err := s.audit(ctx, tx, a, "delete", "relocated", r.Address, domain, relocatedView(r), nil); err != nil {
			return err
		}
	}
	return nil
}
