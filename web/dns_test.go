package web_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"mailhost/admin"
	"mailhost/dnsres"
	"mailhost/dnstest"
)

// The DNS page shows the records as zone-file lines and, after "Check DNS
// now", each record's verdict and what was found; another domain's admin
// gets 404; no private key is on the page.
func TestDomainDNSPage(t *testing.T) {
	srv := dnstest.Start(t)
	r, err := dnsres.New(dnsres.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, func(o *admin.Options) {
		o.Resolver = r
		o.DNS = admin.MailDNS{Hostname: "mail.example.net", MTASTSMode: "testing", MTASTSMaxAge: 86400,
			Services: []admin.ClientService{{Name: "submission", Port: 587, Offered: true}}}
	})
	e.admin("root", true)
	e.domain("example.com")
	e.domain("other.com")
	e.admin("other", false, "other.com")
	srv.Add(t, "example.com. 60 IN MX 10 mail.example.net.")
	srv.Add(t, `example.com. 60 IN TXT "v=spf1 ip4:192.0.2.1 -all"`)

	c := e.client()
	c.login("root", pw, "/")
	c.get("/domains/example.com").must(t, 200).has(t, `href="/domains/example.com/dns"`)
	p := c.get("/domains/example.com/dns").must(t, 200).has(t,
		"<h1>DNS records of example.com</h1>",
		"example.com. 3600 IN MX 10 mail.example.net.",
		`example.com. 3600 IN TXT &#34;v=spf1 mx -all&#34;`,
		"._domainkey.example.com. 3600 IN TXT &#34;v=DKIM1; k=rsa; p=",
		"._domainkey.example.com. 3600 IN TXT &#34;v=DKIM1; k=ed25519; p=",
		"_dmarc.example.com. 3600 IN TXT", "_mta-sts.example.com. 3600 IN TXT &#34;v=STSv1; id=",
		"mta-sts.example.com. 3600 IN CNAME mail.example.net.", "_smtp._tls.example.com. 3600 IN TXT",
		"_submission._tcp.example.com. 3600 IN SRV 0 1 587 mail.example.net.",
		"autoconfig.example.com. 3600 IN CNAME mail.example.net.",
		`href="/domains/example.com/dns?check=1"`).lacks(t, "verdict-")
	checked := c.get("/domains/example.com/dns?check=1").must(t, 200).has(t,
		`<span class="verdict verdict-ok">ok</span>`, `<span class="verdict verdict-wrong">wrong</span>`,
		`<span class="verdict verdict-missing">missing</span>`, "v=spf1 ip4:192.0.2.1 -all",
		"9 of 10 records are not as expected.")

	keys, err := e.st.DKIMSigningKeys(context.Background(), []string{"example.com"})
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %d %v", len(keys), err)
	}
	for _, k := range keys {
		b64 := base64.StdEncoding.EncodeToString(k.PrivateKey)
		for _, body := range []string{p.body, checked.body} {
			if strings.Contains(body, b64[len(b64)-40:]) || strings.Contains(body, "PRIVATE") {
				t.Fatalf("the page shows the private key of %s", k.Selector)
			}
		}
	}

	o := e.client()
	o.login("other", pw, "/")
	o.get("/domains/example.com/dns").must(t, 404)
	o.get("/domains/other.com/dns").must(t, 200).has(t, "<h1>DNS records of other.com</h1>")
}
