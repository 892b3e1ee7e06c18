package web_test

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mailhost/admin"
	"mailhost/testsupport"
)

// curl runs curl against the panel's server and returns the body and the
// HTTP status (curl -w appends it on a line of its own).
func curl(t *testing.T, e *env, path string, args ...string) (string, string) {
	t.Helper()
	bin := testsupport.RequireTool(t, "curl", "curl")
	args = append([]string{"-sS", "-w", "\n%{http_code}", e.srv.URL + path}, args...)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", path, err, out)
	}
	i := strings.LastIndexByte(string(out), '\n')
	return string(out[:i]), string(out[i+1:])
}

type tbServerDoc struct {
	Type           string `xml:"type,attr"`
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"`
	Username       string `xml:"username"`
	Authentication string `xml:"authentication"`
}

// The documented structure of Thunderbird's config-v1.1.xml, read back
// independently of the types that wrote it.
type tbDoc struct {
	XMLName  xml.Name `xml:"clientConfig"`
	Version  string   `xml:"version,attr"`
	Provider struct {
		ID       string        `xml:"id,attr"`
		Domains  []string      `xml:"domain"`
		Incoming []tbServerDoc `xml:"incomingServer"`
		Outgoing []tbServerDoc `xml:"outgoingServer"`
	} `xml:"emailProvider"`
}

func TestThunderbirdAutoconfig(t *testing.T) {
	e := newEnv(t)
	e.domain("example.com")
	e.domain("other.test")
	name := "other.test"
	off := false
	if _, err := e.svc.UpdateDomain(t.Context(), admin.CLI(), name, admin.DomainInput{Active: &off}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		args       []string
	}{
		{"well-known with emailaddress", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=ann%40example.com", nil},
		{"autoconfig host", "/mail/config-v1.1.xml", []string{"-H", "Host: autoconfig.example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, code := curl(t, e, tc.path, tc.args...)
			if code != "200" {
				t.Fatalf("status %s: %s", code, body)
			}
			var doc tbDoc
			if err := xml.Unmarshal([]byte(body), &doc); err != nil {
				t.Fatalf("%v\n%s", err, body)
			}
			p := doc.Provider
			if doc.Version != "1.1" || p.ID != "example.com" || len(p.Domains) != 1 || p.Domains[0] != "example.com" {
				t.Fatalf("provider: %+v", doc)
			}
			var in, out []string
			for _, s := range p.Incoming {
				in = append(in, s.Type+" "+s.Hostname+" "+strconv.Itoa(s.Port)+" "+s.SocketType+" "+s.Username+" "+s.Authentication)
			}
			for _, s := range p.Outgoing {
				out = append(out, s.Type+" "+s.Hostname+" "+strconv.Itoa(s.Port)+" "+s.SocketType+" "+s.Username+" "+s.Authentication)
			}
			wantIn := []string{
				"imap mail.example.net 993 SSL %EMAILADDRESS% password-cleartext",
				"imap mail.example.net 143 STARTTLS %EMAILADDRESS% password-cleartext",
				"pop3 mail.example.net 995 SSL %EMAILADDRESS% password-cleartext",
				"pop3 mail.example.net 110 STARTTLS %EMAILADDRESS% password-cleartext",
			}
			wantOut := []string{
				"smtp mail.example.net 465 SSL %EMAILADDRESS% password-cleartext",
				"smtp mail.example.net 587 STARTTLS %EMAILADDRESS% password-cleartext",
			}
			if strings.Join(in, "\n") != strings.Join(wantIn, "\n") || strings.Join(out, "\n") != strings.Join(wantOut, "\n") {
				t.Errorf("servers:\n%s\n%s\nwant\n%s\n%s", strings.Join(in, "\n"), strings.Join(out, "\n"),
					strings.Join(wantIn, "\n"), strings.Join(wantOut, "\n"))
			}
		})
	}
	for _, path := range []string{
		"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=ann%40nowhere.test", // not hosted
		"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=ann%40other.test",   // inactive
		"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=not-an-address",
	} {
		if body, code := curl(t, e, path); code != "404" {
			t.Errorf("%s: status %s, want 404: %s", path, code, body)
		}
	}
}

func TestOutlookAutodiscover(t *testing.T) {
	e := newEnv(t)
	e.domain("example.com")
	dir := t.TempDir()
	req := func(addr string) string {
		f := filepath.Join(dir, "req.xml")
		os.WriteFile(f, []byte(`<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>`+addr+`</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`), 0o644)
		return "@" + f
	}
	body, code := curl(t, e, "/autodiscover/autodiscover.xml", "-H", "Content-Type: text/xml", "--data-binary", req("ann@example.com"))
	if code != "200" {
		t.Fatalf("status %s: %s", code, body)
	}
	var doc struct {
		XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
		Response struct {
			XMLName xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Response"`
			Account struct {
				AccountType, Action string
				Protocol            []struct {
					Type, Server, LoginName, SSL, SPA, AuthRequired, Encryption string
					Port                                                        int
				}
			}
		}
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	acc := doc.Response.Account
	if acc.AccountType != "email" || acc.Action != "settings" || len(acc.Protocol) != 2 {
		t.Fatalf("account: %+v", acc)
	}
	got := []string{}
	for _, p := range acc.Protocol {
		got = append(got, strings.Join([]string{p.Type, p.Server, strconv.Itoa(p.Port), p.LoginName, p.SSL, p.Encryption, p.SPA, p.AuthRequired}, " "))
	}
	want := "IMAP mail.example.net 993 ann@example.com on  off on\nSMTP mail.example.net 465 ann@example.com on  off on"
	if strings.Join(got, "\n") != want {
		t.Errorf("protocols:\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	if _, code := curl(t, e, "/autodiscover/autodiscover.xml", "--data-binary", req("ann@nowhere.test")); code != "404" {
		t.Errorf("unhosted domain: status %s, want 404", code)
	}
	if body, code := curl(t, e, "/autodiscover/autodiscover.xml", "--data-binary", "<not xml"); code != "400" || !strings.Contains(body, "EMailAddress") {
		t.Errorf("bad request: status %s, want 400 naming EMailAddress: %s", code, body)
	}
}

// The owner's Apple profile, as Python's plistlib reads it.
func TestOwnerMobileconfig(t *testing.T) {
	e := newEnv(t)
	e.domain("example.com")
	e.mailbox("ann@example.com")
	c := e.client()
	c.get("/me/mobileconfig").redirects(t, "/login?next=%2Fme%2Fmobileconfig")
	c.login("ann@example.com", pw, "/me")
	c.get("/me").must(t, 200).has(t, `href="/me/mobileconfig"`)
	p := c.get("/me/mobileconfig").must(t, 200)
	if ct := p.hdr.Get("Content-Type"); ct != "application/x-apple-aspen-config" {
		t.Errorf("Content-Type %q", ct)
	}
	py := testsupport.RequireTool(t, "python3", "python3")
	cmd := exec.Command(py, "-c", `import json, plistlib, sys
p = plistlib.loads(sys.stdin.buffer.read())
print(json.dumps(p))`)
	cmd.Stdin = strings.NewReader(p.body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("plistlib: %v\n%s\n%s", err, out, p.body)
	}
	var prof map[string]any
	if err := json.Unmarshal(out, &prof); err != nil {
		t.Fatal(err)
	}
	if prof["PayloadType"] != "Configuration" || prof["PayloadVersion"] != float64(1) {
		t.Errorf("profile: %v", prof)
	}
	content, _ := prof["PayloadContent"].([]any)
	if len(content) != 1 {
		t.Fatalf("PayloadContent: %v", prof["PayloadContent"])
	}
	acc := content[0].(map[string]any)
	want := map[string]any{
		"PayloadType": "com.apple.mail.managed", "EmailAccountType": "EmailTypeIMAP", "EmailAddress": "ann@example.com",
		"IncomingMailServerHostName": "mail.example.net", "IncomingMailServerPortNumber": float64(993),
		"IncomingMailServerUseSSL": true, "IncomingMailServerUsername": "ann@example.com",
		"OutgoingMailServerHostName": "mail.example.net", "OutgoingMailServerPortNumber": float64(465),
		"OutgoingMailServerUseSSL": true, "OutgoingPasswordSameAsIncomingPassword": true,
	}
	for k, v := range want {
		if acc[k] != v {
			t.Errorf("%s = %v, want %v", k, acc[k], v)
		}
	}
	if _, has := acc["IncomingPassword"]; has {
		t.Error("the profile carries a password")
	}
	// The same account gets the same profile identity, so installing it
	// again replaces it.
	if again := c.get("/me/mobileconfig").body; again != p.body {
		t.Error("a second download differs")
	}
}
