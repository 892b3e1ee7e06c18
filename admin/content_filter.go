package admin

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"mailhost/contentfilter"
	"mailhost/store"
)

// A domain's content filter settings (issue 14): its spam and virus
// policy, its banned attachments and its own rules. A domain admin
// manages those of its domains. The global rules and the milters are the
// configuration's ([filter]).

// ContentFilterInput changes the given fields of a domain's settings.
type ContentFilterInput struct {
	SpamPolicy  *string  `json:"spam_policy"`  // off, junk, reject
	JunkScore   *float64 `json:"junk_score"`   // spam from this score goes to Junk
	RejectScore *float64 `json:"reject_score"` // with spam_policy reject: refused from this score
	VirusPolicy *string  `json:"virus_policy"` // reject, hold, off
	// DefaultBanned true goes back to the built-in lists (the two lists
	// below must then be absent).
	DefaultBanned    *bool     `json:"default_banned"`
	BannedExtensions *[]string `json:"banned_extensions"` // without dots; [] bans none
	BannedTypes      *[]string `json:"banned_types"`      // type/subtype
	ScanZip          *bool     `json:"scan_zip"`          // look into ZIP archives
	// Rules replace the domain's rules: REJECT, DISCARD, HOLD and WARN.
	Rules *[]FilterRuleInput `json:"rules"`
}

// FilterRuleInput is one of a domain's rules.
type FilterRuleInput struct {
	Kind string `json:"kind"` // header, mime_header, body
	Rule string `json:"rule"` // /pattern/flags ACTION [text]
}

// ContentFilterView is a domain's settings as the faces show them.
type ContentFilterView struct {
	Domain           string            `json:"domain"`
	SpamPolicy       string            `json:"spam_policy"`
	JunkScore        float64           `json:"junk_score"`
	RejectScore      float64           `json:"reject_score"`
	VirusPolicy      string            `json:"virus_policy"`
	DefaultBanned    bool              `json:"default_banned"`
	BannedExtensions []string          `json:"banned_extensions"`
	BannedTypes      []string          `json:"banned_types"`
	ScanZip          bool              `json:"scan_zip"`
	Rules            []FilterRuleInput `json:"rules"`
	UpdatedAt        *time.Time        `json:"updated_at"` // null: the defaults, never changed
}

func contentFilterView(p store.ContentPolicy) ContentFilterView {
	v := ContentFilterView{Domain: p.Domain, SpamPolicy: p.SpamPolicy, JunkScore: p.JunkScore, RejectScore: p.RejectScore,
		VirusPolicy: p.VirusPolicy, BannedExtensions: p.BannedExtensions, BannedTypes: p.BannedTypes, ScanZip: p.ScanZip,
		DefaultBanned: p.BannedExtensions == nil && p.BannedTypes == nil, Rules: []FilterRuleInput{}}
	if v.BannedExtensions == nil {
		v.BannedExtensions = contentfilter.DefaultBannedExtensions
	}
	if v.BannedTypes == nil {
		v.BannedTypes = contentfilter.DefaultBannedTypes
	}
	for _, r := range p.Rules {
		v.Rules = append(v.Rules, FilterRuleInput{Kind: r.Kind, Rule: r.Rule})
	}
	if p.Custom {
		t := p.UpdatedAt
		v.UpdatedAt = &t
	}
	return v
}

// ContentFilter returns a domain's content filter settings.
func (s *Service) ContentFilter(ctx context.Context, a Actor, domain string) (ContentFilterView, error) {
	tx := s.st.Read()
	d, err := s.domainFor(ctx, tx, a, domain, false)
	if err != nil {
		return ContentFilterView{}, err
	}
	p, err := tx.ContentPolicy(ctx, d.ID, d.Name, false)
	if err != nil {
		return ContentFilterView{}, err
	}
	return contentFilterView(p), nil
}

// UpdateContentFilter changes the given fields of a domain's settings.
func (s *Service) UpdateContentFilter(ctx context.Context, a Actor, domain string, in ContentFilterInput) (ContentFilterView, error) {
	var out store.ContentPolicy
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		d, err := s.domainFor(ctx, tx, a, domain, true)
		if err != nil {
			return err
		}
		old, err := tx.ContentPolicy(ctx, d.ID, d.Name, true)
		if err != nil {
			return err
		}
		p := old
		var f fields
		checkContentFilter(&f, in, &p)
		if err := f.err(); err != nil {
			return err
		}
		if err := tx.SaveContentPolicy(ctx, d.ID, p); err != nil {
			return err
		}
		if out, err = tx.ContentPolicy(ctx, d.ID, d.Name, false); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "update", "content_filter", d.Name, d.Name, contentFilterView(old), contentFilterView(out))
	})
	if err != nil {
		return ContentFilterView{}, err
	}
	return contentFilterView(out), nil
}

var (
	extRE  = regexp.MustCompile(`^[a-z0-9_-]{1,20}$`)
	typeRE = regexp.MustCompile(`^[a-z0-9.+-]+/[a-z0-9.+-]+$`)
)

// MaxFilterRules bounds a domain's rules: each is matched against every
// line it applies to.
const MaxFilterRules = 200

// checkContentFilter validates in into p, each problem against its field.
func checkContentFilter(f *fields, in ContentFilterInput, p *store.ContentPolicy) {
	if in.SpamPolicy != nil {
		switch *in.SpamPolicy {
		case "off", "junk", "reject":
			p.SpamPolicy = *in.SpamPolicy
		default:
			f.add("spam_policy", "must be off, junk or reject")
		}
	}
	if in.VirusPolicy != nil {
		switch *in.VirusPolicy {
		case "reject", "hold", "off":
			p.VirusPolicy = *in.VirusPolicy
		default:
			f.add("virus_policy", "must be reject, hold or off")
		}
	}
	for _, sc := range []struct {
		name string
		in   *float64
		out  *float64
	}{{"junk_score", in.JunkScore, &p.JunkScore}, {"reject_score", in.RejectScore, &p.RejectScore}} {
		if sc.in == nil {
			continue
		}
		if *sc.in < -1000 || *sc.in > 1000 {
			f.add(sc.name, "must be from -1000 to 1000")
			continue
		}
		*sc.out = *sc.in
	}
	if p.SpamPolicy == "reject" && p.RejectScore < p.JunkScore {
		f.add("reject_score", "must not be below junk_score (%g)", p.JunkScore)
	}
	if in.ScanZip != nil {
		p.ScanZip = *in.ScanZip
	}
	if in.DefaultBanned != nil && *in.DefaultBanned {
		if in.BannedExtensions != nil || in.BannedTypes != nil {
			f.add("default_banned", "cannot be given with banned_extensions or banned_types")
		}
		p.BannedExtensions, p.BannedTypes = nil, nil
	}
	if in.BannedExtensions != nil {
		p.BannedExtensions = checkList(f, "banned_extensions", *in.BannedExtensions, extRE,
			"an extension such as exe (letters, digits, - and _, no dot)", func(s string) string { return strings.TrimPrefix(s, ".") })
		if p.BannedTypes == nil {
			p.BannedTypes = contentfilter.DefaultBannedTypes
		}
	}
	if in.BannedTypes != nil {
		p.BannedTypes = checkList(f, "banned_types", *in.BannedTypes, typeRE, "a MIME type such as application/x-msdownload", nil)
		if p.BannedExtensions == nil {
			p.BannedExtensions = contentfilter.DefaultBannedExtensions
		}
	}
	if in.Rules != nil {
		p.Rules = checkRules(f, *in.Rules)
	}
}

// checkList normalises a list of extensions or types, each checked by re.
func checkList(f *fields, name string, in []string, re *regexp.Regexp, want string, trim func(string) string) []string {
	out := []string{}
	seen := map[string]bool{}
	for i, v := range in {
		v = strings.ToLower(strings.TrimSpace(v))
		if trim != nil {
			v = trim(v)
		}
		if !re.MatchString(v) {
			f.add(fmt.Sprintf("%s[%d]", name, i), "must be %s", want)
			continue
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if len(out) > 500 {
		f.add(name, "has more than 500 entries")
	}
	return out
}

// checkRules parses each rule as the filter will, and admits the actions
// a domain's rules may take.
func checkRules(f *fields, in []FilterRuleInput) []store.FilterRule {
	if len(in) > MaxFilterRules {
		f.add("rules", "has more than %d rules", MaxFilterRules)
		return nil
	}
	out := []store.FilterRule{}
	for i, r := range in {
		field := fmt.Sprintf("rules[%d]", i)
		kind := contentfilter.Kind(r.Kind)
		if kind != contentfilter.KindHeader && kind != contentfilter.KindMIMEHeader && kind != contentfilter.KindBody {
			f.add(field+".kind", "must be header, mime_header or body")
			continue
		}
		line := strings.TrimSpace(r.Rule)
		if len(line) > 1000 || strings.ContainsAny(line, "\r\n") {
			f.add(field+".rule", "must be one line of at most 1000 characters")
			continue
		}
		rule, err := contentfilter.ParseRule(kind, line)
		if err != nil {
			f.add(field+".rule", "%v", err)
			continue
		}
		switch rule.Verb {
		case contentfilter.Reject, contentfilter.Discard, contentfilter.Hold, contentfilter.Warn:
		default:
			f.add(field+".rule", "a domain's rules may REJECT, DISCARD, HOLD or WARN; %s would change other domains' mail", rule.Verb)
			continue
		}
		out = append(out, store.FilterRule{Kind: r.Kind, Rule: line})
	}
	return out
}
