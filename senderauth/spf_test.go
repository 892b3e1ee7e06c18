package senderauth_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"mailhost/dnsres"
	"mailhost/dnstest"
	"mailhost/senderauth"
)

// spfZone is the test zone of the SPF cases. The client is 192.0.2.10.
func spfZone() []string {
	z := []string{
		`pass.test. TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
		`fail.test. TXT "v=spf1 -all"`,
		`softfail.test. TXT "v=spf1 ~all"`,
		`neutral.test. TXT "v=spf1 ?all"`,
		`noall.test. TXT "v=spf1 ip4:198.51.100.1"`,
		`norecord.test. TXT "some other text"`,
		`two.test. TXT "v=spf1 +all"`,
		`two.test. TXT "v=spf1 -all"`,
		`badterm.test. TXT "v=spf1 foo:bar -all"`,
		`unknownmod.test. TXT "v=spf1 ip4:192.0.2.10 other=thing -all"`,
		`upper.test. TXT "V=SPF1 IP4:192.0.2.10 -ALL"`,
		`split.test. TXT "v=spf1 ip4:198.51.100.1" " ip4:192.0.2.10 -all"`,
		// include
		`inc.test. TXT "v=spf1 include:pass.test -all"`,
		`incfail.test. TXT "v=spf1 include:fail.test ?all"`,
		`incnone.test. TXT "v=spf1 include:nosuch.test -all"`,
		`inctemp.test. TXT "v=spf1 include:servfail.test -all"`,
		// redirect
		`redir.test. TXT "v=spf1 redirect=pass.test"`,
		`redirnone.test. TXT "v=spf1 redirect=nosuch.test"`,
		`redirlast.test. TXT "v=spf1 redirect=fail.test ip4:192.0.2.10"`,
		`redirall.test. TXT "v=spf1 -all redirect=pass.test"`,
		// a, mx
		`a.test. TXT "v=spf1 a -all"`,
		`a.test. A 192.0.2.10`,
		`amask.test. TXT "v=spf1 a:net.amask.test/24 -all"`,
		`net.amask.test. A 192.0.2.99`,
		`mx.test. TXT "v=spf1 mx -all"`,
		`mx.test. MX 10 mail.mx.test.`,
		`mail.mx.test. A 192.0.2.10`,
		`nullmx.test. TXT "v=spf1 mx -all"`,
		`nullmx.test. MX 0 .`,
		// macros
		`macro.test. TXT "v=spf1 exists:%{l}.%{i}.allow.%{d} -all"`,
		`alice.192.0.2.10.allow.macro.test. A 127.0.0.2`,
		`macrorev.test. TXT "v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all"`,
		`10.2.0.192.in-addr._spf.macrorev.test. A 127.0.0.2`,
		`macrohelo.test. TXT "v=spf1 exists:%{h}.helo.macrohelo.test -all"`,
		`mx.sender.example.helo.macrohelo.test. A 127.0.0.2`,
		`badmacro.test. TXT "v=spf1 exists:%{q}.badmacro.test -all"`,
		// void lookups: three names that do not exist
		`void.test. TXT "v=spf1 a:n1.void.test a:n2.void.test a:n3.void.test -all"`,
		`void2.test. TXT "v=spf1 a:n1.void.test a:n2.void.test ip4:192.0.2.10 -all"`,
		// HELO identity
		`helo.test. TXT "v=spf1 ip4:192.0.2.10 -all"`,
		// ptr
		`ptr.test. TXT "v=spf1 ptr -all"`,
		`10.2.0.192.in-addr.arpa. PTR host.ptr.test.`,
		`host.ptr.test. A 192.0.2.10`,
	}
	// The lookup limit: a chain of terms each costing one lookup.
	limit := func(name string, n int) string {
		rec := "v=spf1"
		for i := 1; i <= n; i++ {
			rec += fmt.Sprintf(" a:h%d.lim.test", i)
		}
		return fmt.Sprintf(`%s. TXT "%s -all"`, name, rec)
	}
	z = append(z, limit("ten.test", 10), limit("eleven.test", 11))
	for i := 1; i <= 11; i++ {
		z = append(z, fmt.Sprintf("h%d.lim.test. A 198.51.100.%d", i, i))
	}
	// include chains count too: ten includes each with one "a".
	z = append(z, `incchain.test. TXT "v=spf1 include:i1.chain.test -all"`)
	for i := 1; i <= 6; i++ {
		z = append(z, fmt.Sprintf(`i%d.chain.test. TXT "v=spf1 a:h%d.lim.test include:i%d.chain.test"`, i, i, i+1))
	}
	z = append(z, `i7.chain.test. TXT "v=spf1 ip4:192.0.2.10"`)
	return z
}

// TestSPFRFC7208 runs check_host (RFC 7208 4) against the cases of the
// RFC, each named by its section.
func TestSPFRFC7208(t *testing.T) {
	c, srv := checker(t, spfZone()...)
	srv.FailName("servfail.test")
	srv.FailName("tempfail.test")
	client := netip.MustParseAddr("192.0.2.10")
	for _, tc := range []struct {
		section, name string
		helo, sender  string
		want          string
		wantHELO      bool
		wantDomain    string
	}{
		{"2.6.3 pass: ip4 with a prefix length (5.6)", "ip4", "mx.sender.example", "a@pass.test", "pass", false, "pass.test"},
		{"2.6.4 fail: -all (5.1)", "all-fail", "mx.sender.example", "a@fail.test", "fail", false, "fail.test"},
		{"2.6.5 softfail: ~all", "softfail", "mx.sender.example", "a@softfail.test", "softfail", false, ""},
		{"2.6.2 neutral: ?all", "neutral", "mx.sender.example", "a@neutral.test", "neutral", false, ""},
		{"4.7 no term matched and no redirect: neutral", "default", "mx.sender.example", "a@noall.test", "neutral", false, ""},
		{"4.3 the domain does not exist: none", "nxdomain", "mx.sender.example", "a@nosuch.test", "none", false, ""},
		{"4.5 no SPF record among the TXT records: none", "no-record", "mx.sender.example", "a@norecord.test", "none", false, ""},
		{"4.5 two SPF records: permerror", "two-records", "mx.sender.example", "a@two.test", "permerror", false, ""},
		{"4.6.1 an unknown mechanism: permerror", "unknown-mechanism", "mx.sender.example", "a@badterm.test", "permerror", false, ""},
		{"6 an unknown modifier is ignored", "unknown-modifier", "mx.sender.example", "a@unknownmod.test", "pass", false, ""},
		{"4.6.1, 12 names are case-insensitive", "upper-case", "mx.sender.example", "a@upper.test", "pass", false, ""},
		{"3.3 a record in several strings is joined without spaces", "split-strings", "mx.sender.example", "a@split.test", "pass", false, ""},
		{"4.4 a DNS error looking up the record: temperror", "temperror", "mx.sender.example", "a@tempfail.test", "temperror", false, ""},
		{"5.2 include of a passing domain matches", "include-pass", "mx.sender.example", "a@inc.test", "pass", false, ""},
		{"5.2 include of a failing domain does not match", "include-fail", "mx.sender.example", "a@incfail.test", "neutral", false, ""},
		{"5.2 include of a domain without a record: permerror", "include-none", "mx.sender.example", "a@incnone.test", "permerror", false, ""},
		{"5.2 include of a domain that fails temporarily: temperror", "include-temperror", "mx.sender.example", "a@inctemp.test", "temperror", false, ""},
		{"6.1 redirect to a passing domain", "redirect", "mx.sender.example", "a@redir.test", "pass", false, ""},
		{"6.1 redirect to a domain without a record: permerror", "redirect-none", "mx.sender.example", "a@redirnone.test", "permerror", false, ""},
		{"6.1 redirect is evaluated after every mechanism", "redirect-last", "mx.sender.example", "a@redirlast.test", "pass", false, ""},
		{"6.1 redirect is ignored when the record has all", "redirect-with-all", "mx.sender.example", "a@redirall.test", "fail", false, ""},
		{"5.3 a: the domain's own address", "a", "mx.sender.example", "a@a.test", "pass", false, ""},
		{"5.3 a:domain/cidr", "a-cidr", "mx.sender.example", "a@amask.test", "pass", false, ""},
		{"5.4 mx: an address of an MX host", "mx", "mx.sender.example", "a@mx.test", "pass", false, ""},
		{"5.4 mx of a null MX matches nothing", "null-mx", "mx.sender.example", "a@nullmx.test", "fail", false, ""},
		{"5.5 ptr: a validated name within the domain", "ptr", "mx.sender.example", "a@ptr.test", "pass", false, ""},
		{"7.2, 7.3 macros %{l} %{i} %{d} in exists", "macro-local", "mx.sender.example", "alice@macro.test", "pass", false, ""},
		{"7.2, 7.3 the same macros, another local part", "macro-other-local", "mx.sender.example", "bob@macro.test", "fail", false, ""},
		{"7.3 macro transformers: %{ir} reversed, %{d2} rightmost labels, %{v}", "macro-transformers", "mx.sender.example", "a@macrorev.test", "pass", false, ""},
		{"7.3 macro %{h}: the HELO name", "macro-helo", "mx.sender.example", "a@macrohelo.test", "pass", false, ""},
		{"7.1 an unknown macro letter: permerror", "macro-bad", "mx.sender.example", "a@badmacro.test", "permerror", false, ""},
		{"4.6.4 more than two void lookups: permerror", "void-limit", "mx.sender.example", "a@void.test", "permerror", false, ""},
		{"4.6.4 two void lookups are allowed", "void-two", "mx.sender.example", "a@void2.test", "pass", false, ""},
		{"4.6.4 ten lookups are allowed", "ten-lookups", "mx.sender.example", "a@ten.test", "fail", false, ""},
		{"4.6.4 an eleventh lookup: permerror", "eleven-lookups", "mx.sender.example", "a@eleven.test", "permerror", false, ""},
		{"4.6.4 includes count towards the limit", "include-chain", "mx.sender.example", "a@incchain.test", "permerror", false, ""},
		{"2.4 null reverse-path: the HELO identity, postmaster@helo", "null-sender", "helo.test", "", "pass", true, "helo.test"},
		{"2.4 null reverse-path and an address literal HELO: none", "null-sender-literal", "[192.0.2.10]", "", "none", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := c.SPF(context.Background(), client, tc.helo, tc.sender)
			if got.Result != tc.want || got.HELO != tc.wantHELO {
				t.Fatalf("RFC 7208 %s: got %s (helo %v, err %v), want %s (helo %v)",
					tc.section, got.Result, got.HELO, got.Err, tc.want, tc.wantHELO)
			}
			if tc.wantDomain != "" && got.Domain != tc.wantDomain {
				t.Fatalf("RFC 7208 %s: domain %q, want %q", tc.section, got.Domain, tc.wantDomain)
			}
		})
	}
}

// The checks ask through dnsres's cache: a second check of the same
// sender asks DNS nothing; a temporary failure is asked again.
func TestChecksUseTheResolverCache(t *testing.T) {
	srv := dnstest.Start(t, append(spfZone(), "test. 3600 IN SOA ns.test. h.test. 1 7200 3600 1209600 300")...)
	res, err := dnsres.New(dnsres.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, Attempts: 1,
		Cache: dnsres.CacheConfig{Entries: 100}})
	if err != nil {
		t.Fatal(err)
	}
	c := &senderauth.Checker{DNS: res}
	srv.FailName("tempfail.test.")
	client := netip.MustParseAddr("192.0.2.10")
	ctx := context.Background()
	for _, sender := range []string{"a@mx.test", "a@tempfail.test"} {
		first := c.SPF(ctx, client, "h.example", sender)
		n := srv.Queries()
		again := c.SPF(ctx, client, "h.example", sender)
		if again.Result != first.Result {
			t.Fatalf("%s: %s then %s", sender, first.Result, again.Result)
		}
		asked := srv.Queries() - n
		if first.Result == "temperror" && asked == 0 || first.Result != "temperror" && asked != 0 {
			t.Errorf("%s (%s): the second check asked %d queries", sender, first.Result, asked)
		}
	}
}
