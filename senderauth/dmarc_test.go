package senderauth_test

import (
	"context"
	"testing"

	"mailhost/senderauth"
)

func TestOrgDomain(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":            "example.com",
		"mail.example.com":       "example.com",
		"a.b.example.co.uk":      "example.co.uk",
		"co.uk":                  "co.uk",
		"Mail.Example.COM.":      "example.com",
		"bounce.sub.example.org": "example.org",
	} {
		if got := senderauth.OrgDomain(in); got != want {
			t.Errorf("OrgDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDMARC checks RFC 7489's policy discovery (6.6.3), identifier
// alignment (3.1) and pct sampling (6.6.4).
func TestDMARC(t *testing.T) {
	c, srv := checker(t,
		`_dmarc.example.com. TXT "v=DMARC1; p=reject"`,
		`_dmarc.strict.com. TXT "v=DMARC1; p=quarantine; adkim=s; aspf=s"`,
		`_dmarc.org.com. TXT "v=DMARC1; p=none; sp=reject"`,
		`_dmarc.half.com. TXT "v=DMARC1; p=reject; pct=50"`,
		`_dmarc.two.com. TXT "v=DMARC1; p=reject"`,
		`_dmarc.two.com. TXT "v=DMARC1; p=none"`,
		`_dmarc.other.com. TXT "some verification text"`,
		`_dmarc.broken.com. TXT "v=DMARC1; p=maybe"`,
	)
	srv.FailName("_dmarc.temp.com")
	spfPass := func(d string) senderauth.SPF { return senderauth.SPF{Result: senderauth.Pass, Domain: d} }
	dkimPass := func(d string) []senderauth.DKIM { return []senderauth.DKIM{{Result: senderauth.Pass, Domain: d}} }
	for _, tc := range []struct {
		section, name string
		from          []string
		spf           senderauth.SPF
		dkim          []senderauth.DKIM
		sample        bool
		result        string
		policy        string
	}{
		{"6.6.3 no record", "none", []string{"nodmarc.com"}, spfPass("nodmarc.com"), nil, true, "none", "none"},
		{"6.6.3 a TXT that is not DMARC's", "not-dmarc", []string{"other.com"}, senderauth.SPF{}, nil, true, "none", "none"},
		{"6.6.3 step 5: two records, no policy", "two-records", []string{"two.com"}, senderauth.SPF{}, nil, true, "none", "none"},
		{"6.6.3 a broken record: permerror", "broken", []string{"broken.com"}, senderauth.SPF{}, nil, true, "permerror", "none"},
		{"6.6.3 lookup failed for now: temperror", "temperror", []string{"temp.com"}, senderauth.SPF{}, nil, true, "temperror", "none"},
		{"3.1.2 SPF aligned, the same domain", "spf-same", []string{"example.com"}, spfPass("example.com"), nil, true, "pass", "none"},
		{"3.1.2 relaxed SPF: a subdomain of the organisational domain", "spf-relaxed", []string{"example.com"}, spfPass("bounce.example.com"), nil, true, "pass", "none"},
		{"3.1.1 relaxed DKIM: the parent signs for a subdomain author", "dkim-relaxed", []string{"news.example.com"}, senderauth.SPF{}, dkimPass("example.com"), true, "pass", "none"},
		{"3.1.2 SPF passed for another domain: fail", "spf-unaligned", []string{"example.com"}, spfPass("example.net"), nil, true, "fail", "reject"},
		{"3.1.1 DKIM passed for another domain: fail", "dkim-unaligned", []string{"example.com"}, senderauth.SPF{}, dkimPass("evil.net"), true, "fail", "reject"},
		{"3.1.1 a DKIM signature that failed does not count", "dkim-failed", []string{"example.com"}, senderauth.SPF{},
			[]senderauth.DKIM{{Result: senderauth.Fail, Domain: "example.com"}}, true, "fail", "reject"},
		{"3.1.1 strict DKIM: a subdomain is not aligned", "dkim-strict", []string{"strict.com"}, senderauth.SPF{}, dkimPass("mail.strict.com"), true, "fail", "quarantine"},
		{"3.1.2 strict SPF: a subdomain is not aligned", "spf-strict", []string{"strict.com"}, spfPass("bounce.strict.com"), nil, true, "fail", "quarantine"},
		{"6.6.3 the organisational domain's record, sp= for a subdomain", "subdomain-policy", []string{"mail.org.com"}, senderauth.SPF{}, nil, true, "fail", "reject"},
		{"6.6.3 p= for the organisational domain itself", "org-policy", []string{"org.com"}, senderauth.SPF{}, nil, true, "fail", "none"},
		{"6.6.4 within pct: the policy", "pct-in", []string{"half.com"}, senderauth.SPF{}, nil, true, "fail", "reject"},
		{"6.6.4 outside pct: one step down", "pct-out", []string{"half.com"}, senderauth.SPF{}, nil, false, "fail", "quarantine"},
		{"6.6.1 several authors: the worst outcome", "several", []string{"nodmarc.com", "example.com"}, spfPass("nodmarc.com"), nil, true, "fail", "reject"},
		{"6.6.1 no author: permerror", "no-from", nil, senderauth.SPF{}, nil, true, "permerror", "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Sample = func(int) bool { return tc.sample }
			got := c.DMARC(context.Background(), tc.from, tc.spf, tc.dkim)
			if got.Result != tc.result || got.Policy != tc.policy {
				t.Fatalf("RFC 7489 %s: got %s/%s (%v), want %s/%s", tc.section, got.Result, got.Policy, got.Err, tc.result, tc.policy)
			}
		})
	}
}
