package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"mailhost/dkimsign"
	"mailhost/dnsres"
	"mailhost/dnstest"
	"mailhost/store"
)

// newDNSService is a test service whose DNS checks ask a loopback DNS
// server, for the host mail.example.test.
func newDNSService(t *testing.T) (*Service, *store.Store, *clock, *dnstest.Server) {
	t.Helper()
	s, st, clk := newTestService(t)
	srv := dnstest.Start(t)
	r, err := dnsres.New(dnsres.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.opts.Resolver = r
	s.opts.DNS = MailDNS{Hostname: "mail.example.test", MTASTSMode: "testing", MTASTSMaxAge: 86400, DKIMGrace: 48 * time.Hour,
		Services: []ClientService{{Name: "submission", Port: 587, Offered: true}, {Name: "imaps", Port: 993, Offered: true},
			{Name: "pop3s", Port: 995, Offered: false}}}
	return s, st, clk, srv
}

func createDomain(t *testing.T, s *Service, name string) DomainView {
	t.Helper()
	d, err := s.CreateDomain(context.Background(), CLI(), DomainInput{Name: new(name)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// publish puts the TXT records of keys into the DNS server, as the DNS
// page writes them (zone-file lines, split into 255-octet strings).
func publish(t *testing.T, srv *dnstest.Server, keys []DKIMKeyView) {
	t.Helper()
	for _, k := range keys {
		srv.Add(t, ZoneLine(k.Name, "TXT", k.Record))
	}
}

const testMessage = "From: alice@example.test\r\nTo: bob@remote.test\r\nSubject: hi\r\n" +
	"Date: Thu, 03 Dec 2026 07:00:00 +0000\r\nMessage-ID: <x@example.test>\r\n\r\nhello\r\n"

// signedWith signs the test message as the MTA would and returns the
// selectors of its signatures, after checking that they verify against
// the DNS server's records with go-msgauth.
func signedWith(t *testing.T, st *store.Store, s *Service) []string {
	t.Helper()
	ctx := context.Background()
	msg, err := dkimsign.New(st, -1, nil).Sign(ctx, []byte(testMessage))
	if err != nil {
		t.Fatal(err)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return s.opts.Resolver.TXT(ctx, name) }})
	if err != nil {
		t.Fatal(err)
	}
	var sels []string
	for _, v := range vs {
		if v.Err != nil || v.Domain != "example.test" {
			t.Errorf("signature d=%s: %v", v.Domain, v.Err)
		}
	}
	unfolded := strings.NewReplacer("\r\n ", " ", "\r\n\t", " ").Replace(string(msg))
	for _, line := range strings.Split(unfolded, "\r\n") {
		if _, rest, ok := strings.Cut(line, " s="); ok && strings.HasPrefix(line, "DKIM-Signature:") {
			sel, _, _ := strings.Cut(rest, ";")
			sels = append(sels, sel)
		}
	}
	return sels
}

func keyStates(t *testing.T, s *Service) map[string]string {
	t.Helper()
	ks, err := s.DKIMKeys(context.Background(), CLI(), "example.test")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range ks {
		out[k.Selector] = k.State
	}
	return out
}

// A new domain signs at once with its two keys; a rotation's keys sign
// only once both their records are in DNS as published, the old ones
// stay published for the grace period, then go.
func TestDKIMRotation(t *testing.T) {
	ctx := context.Background()
	s, st, clk, srv := newDNSService(t)
	createDomain(t, s, "example.test")
	first, err := s.DKIMKeys(ctx, CLI(), "example.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || first[0].Selector != "r20261203" || first[1].Selector != "e20261203" ||
		first[0].State != "active" || first[1].State != "active" {
		t.Fatalf("first keys %+v", first)
	}
	publish(t, srv, first)
	if got := signedWith(t, st, s); strings.Join(got, ",") != "r20261203,e20261203" {
		t.Fatalf("signed with %v", got)
	}

	clk.t = clk.t.Add(24 * time.Hour)
	next, err := s.RotateDKIM(ctx, CLI(), "example.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(next) != 2 || next[0].Selector != "r20261204" || next[1].Selector != "e20261204" || next[0].State != "pending" {
		t.Fatalf("rotation keys %+v", next)
	}
	if _, err := s.RotateDKIM(ctx, CLI(), "example.test"); !errors.Is(err, ErrConflict) {
		t.Fatalf("second rotation while one waits: %v", err)
	}
	check := func(wantActivated, wantRetired int) {
		t.Helper()
		a, r, err := s.CheckDKIMRotations(ctx)
		if err != nil || len(a) != wantActivated || len(r) != wantRetired {
			t.Fatalf("check: activated %v retired %v, %v; want %d and %d", a, r, err, wantActivated, wantRetired)
		}
	}
	check(0, 0) // nothing in DNS yet
	publish(t, srv, next[:1])
	check(0, 0)                                                                         // the RSA key alone
	srv.Add(t, ZoneLine(next[1].Name, "TXT", dkimsign.Record("ed25519", first[1].key))) // the wrong key
	check(0, 0)
	if got := signedWith(t, st, s); strings.Join(got, ",") != "r20261203,e20261203" {
		t.Fatalf("signed with %v before the new records are seen", got)
	}
	srv.Remove(next[1].Name, "TXT")
	publish(t, srv, next[1:])
	check(2, 0)
	if got := signedWith(t, st, s); strings.Join(got, ",") != "r20261204,e20261204" {
		t.Fatalf("signed with %v after the rotation", got)
	}
	want := map[string]string{"r20261203": "retiring", "e20261203": "retiring", "r20261204": "active", "e20261204": "active"}
	if got := keyStates(t, s); !maps.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	page, err := s.DomainDNS(ctx, CLI(), "example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(dnsZone(page), "._domainkey."); n != 4 {
		t.Errorf("%d DKIM records on the DNS page during the grace period, want 4", n)
	}
	clk.t = clk.t.Add(47 * time.Hour)
	check(0, 0)
	clk.t = clk.t.Add(2 * time.Hour)
	check(0, 2)
	want = map[string]string{"r20261204": "active", "e20261204": "active"}
	if got := keyStates(t, s); !maps.Equal(got, want) {
		t.Fatalf("states %v after the grace period, want %v", got, want)
	}
}

func dnsZone(p DNSPage) string {
	var b strings.Builder
	for _, r := range p.Records {
		b.WriteString(r.Zone + "\n")
	}
	return b.String()
}

// Domains without keys (made before migration 0010) get one pair, even
// when several nodes start at once; relay domains get none.
func TestEnsureDKIMKeys(t *testing.T) {
	ctx := context.Background()
	s, st, _ := newTestService(t)
	err := st.Tx(ctx, func(tx *store.Tx) error {
		for _, d := range []store.Domain{{Name: "old.test", Kind: "local", Active: true}, {Name: "relay.test", Kind: "relay", Active: true}} {
			if _, err := tx.InsertDomain(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	made := make([][]string, 3)
	for i := range made {
		wg.Go(func() {
			var err error
			if made[i], err = s.EnsureDKIMKeys(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(made[0]) + len(made[1]) + len(made[2]); n != 1 {
		t.Fatalf("keys made %v times, want once for old.test", made)
	}
	ks, err := s.DKIMKeys(ctx, CLI(), "old.test")
	if err != nil || len(ks) != 2 {
		t.Fatalf("old.test keys %+v, %v", ks, err)
	}
	if ks, _ := s.DKIMKeys(ctx, CLI(), "relay.test"); len(ks) != 0 {
		t.Fatalf("relay.test has keys %+v", ks)
	}
	// Turned local, it gets its keys at once.
	if _, err := s.UpdateDomain(ctx, CLI(), "relay.test", DomainInput{Kind: new("local")}); err != nil {
		t.Fatal(err)
	}
	if ks, _ := s.DKIMKeys(ctx, CLI(), "relay.test"); len(ks) != 2 || ks[0].State != "active" {
		t.Fatalf("relay.test turned local has keys %+v", ks)
	}
}

// The DNS page's live check: each record ok, missing, wrong or error.
func TestDomainDNSCheck(t *testing.T) {
	ctx := context.Background()
	s, st, _, srv := newDNSService(t)
	createDomain(t, s, "example.test")
	dom, err := st.Read().DomainByName(ctx, "example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := s.DKIMKeys(ctx, CLI(), "example.test")
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.DomainDNS(ctx, CLI(), "example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	_, id := s.mtaSTSPolicy()
	for _, line := range []string{
		"example.test. 3600 IN MX 10 mail.example.test.",
		`example.test. 3600 IN TXT "v=spf1 mx -all"`,
		`_dmarc.example.test. 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test"`,
		`_mta-sts.example.test. 3600 IN TXT "v=STSv1; id=` + id + `"`,
		"mta-sts.example.test. 3600 IN CNAME mail.example.test.",
		`_smtp._tls.example.test. 3600 IN TXT "v=TLSRPTv1; rua=mailto:postmaster@example.test"`,
		"_submission._tcp.example.test. 3600 IN SRV 0 1 587 mail.example.test.",
		"_pop3s._tcp.example.test. 3600 IN SRV 0 0 0 .",
		"autoconfig.example.test. 3600 IN CNAME mail.example.test.",
		ZoneLine(keys[0].Name, "TXT", keys[0].Record),
	} {
		if !strings.Contains(dnsZone(page), line+"\n") {
			t.Errorf("DNS page lacks %s\n%s", line, dnsZone(page))
		}
	}
	for _, rr := range []string{
		"example.test. 60 IN MX 10 mail.example.test.",
		`example.test. 60 IN TXT "v=spf1 a -all"`,                                                     // wrong
		`example.test. 60 IN TXT "google-site-verification=abc"`,                                      // not SPF: ignored
		`_dmarc.example.test. 60 IN TXT "v=DMARC1;p=quarantine;  rua=mailto:postmaster@example.test"`, // spacing differs: ok
		"mail.example.test. 60 IN A 192.0.2.1",
		"autoconfig.example.test. 60 IN A 192.0.2.1", // the server's address instead of a CNAME: ok
		"mta-sts.example.test. 60 IN CNAME elsewhere.test.",
		"_submission._tcp.example.test. 60 IN SRV 0 1 587 mail.example.test.",
		"_imaps._tcp.example.test. 60 IN SRV 0 1 143 mail.example.test.", // wrong port
		ZoneLine(keys[0].Name, "TXT", keys[0].Record),
	} {
		srv.Add(t, rr)
	}
	srv.FailName("_smtp._tls.example.test")
	page, err = s.DomainDNS(ctx, CLI(), "example.test", true)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range page.Records {
		got[r.Purpose] = r.Check.Verdict
	}
	want := map[string]string{
		"MX": "ok", "SPF": "wrong", "DKIM rsa (active)": "ok", "DKIM ed25519 (active)": "missing", "DMARC": "ok",
		"MTA-STS": "missing", "MTA-STS policy host": "wrong", "TLS reporting": "error",
		"client setup: submission": "ok", "client setup: imaps": "wrong", "client setup: pop3s": "missing",
		"client autoconfiguration": "ok",
	}
	if !maps.Equal(got, want) {
		t.Errorf("verdicts\n got %v\nwant %v", got, want)
	}
	for _, r := range page.Records {
		if r.Purpose == "SPF" && (len(r.Check.Found) != 1 || r.Check.Found[0] != "v=spf1 a -all") {
			t.Errorf("SPF found %q, want only the SPF record", r.Check.Found)
		}
	}

	// Who may see it: super-admins and the domain's admins.
	mine := Actor{Kind: "admin", Username: "a", DomainIDs: []int64{dom.ID}}
	if _, err := s.DomainDNS(ctx, mine, "example.test", false); err != nil {
		t.Errorf("the domain's admin: %v", err)
	}
	other := Actor{Kind: "admin", Username: "b", DomainIDs: []int64{dom.ID + 1000}}
	if _, err := s.DomainDNS(ctx, other, "example.test", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("another domain's admin: %v, want not found", err)
	}
	if _, err := s.DKIMKeys(ctx, other, "example.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another domain's admin lists keys: %v, want not found", err)
	}
	if _, err := s.RotateDKIM(ctx, other, "example.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another domain's admin rotates: %v, want not found", err)
	}

	// No view carries a private key.
	priv, err := st.DKIMSigningKeys(ctx, []string{"example.test"})
	if err != nil || len(priv) != 2 {
		t.Fatalf("signing keys %d, %v", len(priv), err)
	}
	views, _ := json.Marshal([]any{page, keys})
	for _, k := range priv {
		b64 := base64.StdEncoding.EncodeToString(k.PrivateKey)
		if bytes.Contains(views, []byte(b64[len(b64)-40:])) || bytes.Contains(views, []byte("PRIVATE")) {
			t.Fatalf("a view shows the private key of %s", k.Selector)
		}
	}
}

// The MTA-STS policy is served for mta-sts.<local domain> only, and its
// id changes with the policy.
func TestMTASTSPolicy(t *testing.T) {
	ctx := context.Background()
	s, _, _, _ := newDNSService(t)
	createDomain(t, s, "example.test")
	if _, err := s.CreateDomain(ctx, CLI(), DomainInput{Name: new("relay.test"), Kind: new("relay")}); err != nil {
		t.Fatal(err)
	}
	p, err := s.MTASTSPolicy(ctx, "MTA-STS.Example.test:443")
	want := "version: STSv1\r\nmode: testing\r\nmx: mail.example.test\r\nmax_age: 86400\r\n"
	if err != nil || p != want {
		t.Fatalf("policy %q, %v; want %q", p, err, want)
	}
	for _, host := range []string{"example.test", "mta-sts.relay.test", "mta-sts.unknown.test", "mta-sts.", "mta-sts.a b"} {
		if _, err := s.MTASTSPolicy(ctx, host); !errors.Is(err, ErrNotFound) {
			t.Errorf("policy for %q: %v, want not found", host, err)
		}
	}
	_, id := s.mtaSTSPolicy()
	s.opts.DNS.MTASTSMode = "enforce"
	if _, id2 := s.mtaSTSPolicy(); id2 == id {
		t.Error("the policy id did not change with the mode")
	}
	s.opts.DNS.MTASTSMode = "none"
	if _, err := s.MTASTSPolicy(ctx, "mta-sts.example.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("mode none: %v, want not found", err)
	}
}
