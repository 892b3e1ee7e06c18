package api_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mailhost/admin"
	"mailhost/api"
	"mailhost/dnsres"
	"mailhost/dnstest"
)

// newDNSEnv is an API whose DNS checks ask a loopback DNS server.
func newDNSEnv(t *testing.T) (*env, *dnstest.Server) {
	t.Helper()
	e := newEnv(t)
	srv := dnstest.Start(t)
	r, err := dnsres.New(dnsres.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.svc = admin.New(e.st, admin.Options{Hasher: testHasher, MaildirRoot: e.root, RetentionRoot: e.retention,
		RetentionDays: 30, Owner: e.owner, Log: log, Resolver: r,
		DNS: admin.MailDNS{Hostname: "mail.example.net", MTASTSMode: "enforce", MTASTSMaxAge: 604800,
			Services: []admin.ClientService{{Name: "imaps", Port: 993, Offered: true}}}})
	e.api = api.New(e.svc, log)
	e.srv.Config.Handler = e.api
	return e, srv
}

// GET /domains/{domain}/dns gives the records as JSON, with verdicts when
// asked; /dkim lists the keys and /dkim/rotate makes the next ones; no
// answer carries a private key, and only the domain's admins and
// super-admins see them.
func TestDomainDNSAPI(t *testing.T) {
	e, srv := newDNSEnv(t)
	super := e.admin("root", true)
	for _, d := range []string{"a.example", "b.example"} {
		e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": d}))
	}
	adminA, adminB := e.admin("da", false, "a.example"), e.admin("db", false, "b.example")
	srv.Add(t, "a.example. 60 IN MX 10 mail.example.net.")

	var raws []string
	r := e.must(200, e.do(adminA, "GET", "/api/v1/domains/a.example/dns", nil))
	raws = append(raws, r.raw)
	if r.body["domain"] != "a.example" || r.body["checked"] != false || strings.Contains(r.raw, `"check"`) {
		t.Fatalf("unchecked page: %s", r.raw)
	}
	r = e.must(200, e.do(adminA, "GET", "/api/v1/domains/a.example/dns?check=1", nil))
	raws = append(raws, r.raw)
	verdicts := map[string]string{}
	for _, x := range r.body["records"].([]any) {
		rec := x.(map[string]any)
		verdicts[rec["purpose"].(string)] = rec["check"].(map[string]any)["verdict"].(string)
		if rec["purpose"] == "MX" && rec["zone"] != "a.example. 3600 IN MX 10 mail.example.net." {
			t.Errorf("MX zone line %v", rec["zone"])
		}
	}
	if verdicts["MX"] != "ok" || verdicts["SPF"] != "missing" || verdicts["DKIM rsa (active)"] != "missing" {
		t.Errorf("verdicts %v", verdicts)
	}
	e.problem(404, "not-found", e.do(adminB, "GET", "/api/v1/domains/a.example/dns", nil))
	e.problem(404, "not-found", e.do(adminB, "GET", "/api/v1/domains/a.example/dkim", nil))
	e.problem(404, "not-found", e.do(adminB, "POST", "/api/v1/domains/a.example/dkim/rotate", nil))
	if r := e.do(adminA, "GET", "/api/v1/domains/a.example/dns?check=maybe", nil); r.code != 422 || strings.Join(fieldErrors(r), ",") != "check" {
		t.Errorf("check=maybe: %d %s", r.code, r.raw)
	}

	r = e.must(200, e.do(adminA, "GET", "/api/v1/domains/a.example/dkim", nil))
	raws = append(raws, r.raw)
	if !strings.Contains(r.raw, `"state":"active"`) || !strings.Contains(r.raw, `"record":"v=DKIM1; k=ed25519; p=`) {
		t.Errorf("keys: %s", r.raw)
	}
	r = e.must(201, e.do(adminA, "POST", "/api/v1/domains/a.example/dkim/rotate", nil))
	raws = append(raws, r.raw)
	if strings.Count(r.raw, `"state":"pending"`) != 2 {
		t.Errorf("rotation: %s", r.raw)
	}
	e.problem(409, "conflict", e.do(super, "POST", "/api/v1/domains/a.example/dkim/rotate", nil))

	keys, err := e.st.DKIMSigningKeys(context.Background(), []string{"a.example"})
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %d %v", len(keys), err)
	}
	for _, raw := range raws {
		for _, k := range keys {
			b64 := base64.StdEncoding.EncodeToString(k.PrivateKey)
			if strings.Contains(raw, b64[len(b64)-40:]) || strings.Contains(raw, "PRIVATE") {
				t.Fatalf("an answer shows the private key of %s: %s", k.Selector, raw)
			}
		}
	}
}

// The MTA-STS policy is served to the Host mta-sts.<hosted domain> alone.
func TestMTASTSHandler(t *testing.T) {
	e, _ := newDNSEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "a.example"}))
	h := api.MTASTS(e.svc, slog.New(slog.DiscardHandler))
	for _, c := range []struct {
		host string
		code int
		body string
	}{
		{"mta-sts.a.example", 200, "version: STSv1\r\nmode: enforce\r\nmx: mail.example.net\r\nmax_age: 604800\r\n"},
		{"mta-sts.a.example:8443", 200, "version: STSv1\r\nmode: enforce\r\nmx: mail.example.net\r\nmax_age: 604800\r\n"},
		{"a.example", 404, ""},
		{"mta-sts.b.example", 404, ""},
	} {
		req := httptest.NewRequest("GET", "/.well-known/mta-sts.txt", nil)
		req.Host = c.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != c.code || (c.code == 200 && (w.Body.String() != c.body || w.Header().Get("Content-Type") != "text/plain")) {
			t.Errorf("%s: %d %q %q", c.host, w.Code, w.Header().Get("Content-Type"), w.Body.String())
		}
	}
}
