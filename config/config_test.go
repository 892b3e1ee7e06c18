package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func load(t *testing.T, file string, vars map[string]string) (*Config, error) {
	t.Helper()
	path := ""
	if file != "" {
		path = filepath.Join(t.TempDir(), "mailhost.toml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Load(path, env(vars))
	if err != nil {
		return nil, err
	}
	c.Finish()
	return c, c.Validate()
}

func TestDefaultsAreValidInBothModes(t *testing.T) {
	c, err := load(t, "", nil)
	if err != nil {
		t.Fatalf("embedded defaults: %v", err)
	}
	if !c.Embedded() || c.Listen.SMTP != "127.0.0.1:2525" || c.Listen.HTTP != "127.0.0.1:8080" {
		t.Errorf("embedded listen = %+v", c.Listen)
	}
	if c.SMTP.MessageSizeLimit != 10240000 || c.SMTP.RecipientDelimiter != "+" || c.Vmail.UID != 5000 {
		t.Errorf("defaults = %+v %+v", c.SMTP, c.Vmail)
	}
	if got := strings.Join(c.SMTP.Mynetworks, " "); got != "127.0.0.1/32 ::1/128" {
		t.Errorf("mynetworks = %q", got)
	}
	if c.MaildirRoot != filepath.Join(c.DataDir, "vmail") || !filepath.IsAbs(c.DataDir) {
		t.Errorf("maildir root %q under data dir %q", c.MaildirRoot, c.DataDir)
	}
	c, err = load(t, "", map[string]string{"DATABASE_URL": "postgres://u:pw@db/mail"})
	if err != nil {
		t.Fatalf("production defaults: %v", err)
	}
	if c.Embedded() || c.Listen.SMTP != ":25" || c.Listen.IMAPS != ":993" || c.Listen.Submissions != ":465" {
		t.Errorf("production listen = %+v", c.Listen)
	}
}

func TestPrecedenceFileThenEnv(t *testing.T) {
	file := `
hostname = "mx.example.com"
[smtp]
message_size_limit = 5000
mynetworks = ["10.0.0.0/8"]
[listen]
smtp = "127.0.0.1:2526"
`
	c, err := load(t, file, map[string]string{
		"MAILHOST_SMTP_MESSAGE_SIZE_LIMIT": "7000",
		"MAILHOST_SMTP_MYNETWORKS":         "192.0.2.0/24, 2001:db8::/32",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Hostname != "mx.example.com" || c.SMTP.MessageSizeLimit != 7000 || c.Listen.SMTP != "127.0.0.1:2526" {
		t.Errorf("got hostname %q size %d smtp %q", c.Hostname, c.SMTP.MessageSizeLimit, c.Listen.SMTP)
	}
	if got := strings.Join(c.SMTP.Mynetworks, " "); got != "192.0.2.0/24 2001:db8::/32" {
		t.Errorf("mynetworks = %q", got)
	}
	if err := c.SetFrom("data_dir", "/srv/mail", "--data-dir"); err != nil || c.DataDir != "/srv/mail" {
		t.Errorf("flag: %v %q", err, c.DataDir)
	}
}

func TestMailhostDatabaseURLWinsOverAlias(t *testing.T) {
	c, err := load(t, "", map[string]string{"DATABASE_URL": "postgres://a/x", "MAILHOST_DATABASE_URL": "postgres://b/y"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.URL != "postgres://b/y" {
		t.Errorf("url = %q", c.Database.URL)
	}
}

// Every invalid value fails with a message naming the key, where it came
// from, and what is allowed.
func TestErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        map[string]string
		want       []string
	}{
		{"negative size from env", "", map[string]string{"MAILHOST_SMTP_MESSAGE_SIZE_LIMIT": "-5"},
			[]string{"smtp.message_size_limit", "$MAILHOST_SMTP_MESSAGE_SIZE_LIMIT", "positive number of bytes"}},
		{"not a number", "", map[string]string{"MAILHOST_VMAIL_UID": "vmail"},
			[]string{"vmail.uid", "whole number", `"vmail"`}},
		{"root uid", "[vmail]\nuid = 0\n", nil, []string{"vmail.uid", "mailhost.toml", "never stored as root"}},
		{"bad listen", "[listen]\nimap = \"localhost\"\n", nil, []string{"listen.imap", "host:port"}},
		{"bad port", "", map[string]string{"MAILHOST_LISTEN_HTTP": ":99999"}, []string{"listen.http", "0 to 65535"}},
		{"bad network", "[smtp]\nmynetworks = [\"10.0.0.0/33\"]\n", nil, []string{"smtp.mynetworks", "CIDR"}},
		{"bad metrics network", "[metrics]\nallow = [\"prometheus.lan\"]\n", nil, []string{"metrics.allow", "CIDR"}},
		{"short metrics token", "", map[string]string{"MAILHOST_METRICS_TOKEN": "short"}, []string{"metrics.token", "16 characters"}},
		{"missing CA file", "[smtp]\nrelayhost_ca_file = \"/nonexistent/ca.pem\"\n", nil, []string{"smtp.relayhost_ca_file", "no such file"}},
		{"unknown TLS policy", "[smtp]\noutbound_tls_domains = [\"bank.example=dane-only\"]\n", nil, []string{"smtp.outbound_tls_domains", "none, may, dane, encrypt, verify"}},
		{"bad level", "[log]\nlevel = \"loud\"\n", nil, []string{"log.level", "debug, info, warn, error", `"loud"`}},
		{"bad scheme", "", map[string]string{"MAILHOST_PASSWORD_SCHEME": "MD5"}, []string{"password.scheme", "ARGON2ID"}},
		{"bad relayhost", "[smtp]\nrelayhost = \"[mx.example.com\"\n", nil, []string{"smtp.relayhost", "closing ]"}},
		{"bad hostname", "hostname = \"bad host\"\n", nil, []string{"hostname", "DNS host name"}},
		{"bad DNS cache cap", "[dns]\ncache_max_ttl = \"forever\"\n", nil, []string{"dns.cache_max_ttl", "Go duration", `"forever"`}},
		{"DNS cache floor over cap", "", map[string]string{"MAILHOST_DNS_CACHE_MIN_TTL": "2h"}, []string{"dns.cache_min_ttl", "dns.cache_max_ttl"}},
		{"negative DNS cache size", "[dns]\ncache_entries = -1\n", nil, []string{"dns.cache_entries", "from 0"}},
		{"DNS cache cap of 0s", "[dns]\ncache_max_ttl = \"0s\"\n", nil, []string{"dns.cache_max_ttl", "at least 1s", "cache_entries = 0"}},
		{"DNS negative cache cap of 0s", "", map[string]string{"MAILHOST_DNS_CACHE_NEGATIVE_TTL": "0s"}, []string{"dns.cache_negative_ttl", "at least 1s"}},
		{"long connection cache idle time", "", map[string]string{"MAILHOST_QUEUE_CONNECTION_CACHE_TIME_LIMIT": "1h"},
			[]string{"queue.connection_cache_time_limit", "1ms to 5m", `"1h"`}},
		{"zero reuse count", "[queue]\nconnection_reuse_count_limit = 0\n", nil, []string{"queue.connection_reuse_count_limit", "from 1"}},
		{"unknown key", "[smtp]\nmessage_size = 5\n", nil, []string{"smtp.message_size", "unknown key"}},
		{"wrong type in file", "[smtp]\nmessage_size_limit = \"big\"\n", nil, []string{"message_size_limit"}},
		{"delimiter", "[smtp]\nrecipient_delimiter = \"@\"\n", nil, []string{"smtp.recipient_delimiter"}},
		{"half tls", "[tls]\ncert_file = \"/x.pem\"\n", nil, []string{"tls.key_file", "together"}},
		{"resolver name", "[dns]\nresolver = \"192.0.2.1, ns.example.com\"\n", nil, []string{"dns.resolver", `"ns.example.com"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.file, tc.env)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// dns.resolver lists nameservers, from the file or the environment.
func TestDNSResolverList(t *testing.T) {
	c, err := load(t, "[dns]\nresolver = \"192.0.2.1, [2001:db8::53]:5353 192.0.2.2:53\"\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.DNS.Servers(), " "); got != "192.0.2.1 [2001:db8::53]:5353 192.0.2.2:53" {
		t.Errorf("servers %q", got)
	}
	c, err = load(t, "", map[string]string{"MAILHOST_DNS_RESOLVER": "2001:db8::1"})
	if err != nil || len(c.DNS.Servers()) != 1 {
		t.Errorf("from the environment: %v %v", c, err)
	}
}

func TestSeveralErrorsAtOnce(t *testing.T) {
	_, err := load(t, "[log]\nformat = \"xml\"\n[database]\nmax_conns = 1\n", nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Error", err)
	}
	for _, w := range []string{"log.format", "database.max_conns"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q missing %s", err, w)
		}
	}
}

func TestDumpRedactsSecretsAndIsTOML(t *testing.T) {
	c, err := load(t, "", map[string]string{
		"DATABASE_URL":                     "postgres://mail:s3cret@db.example.com/mail",
		"MAILHOST_SMTP_RELAYHOST":          "[smtp.example.net]:587",
		"MAILHOST_SMTP_RELAYHOST_USERNAME": "u",
		"MAILHOST_SMTP_RELAYHOST_PASSWORD": "hunter2",
	})
	if err != nil {
		t.Fatal(err)
	}
	out := c.Dump()
	if strings.Contains(out, "s3cret") || strings.Contains(out, "hunter2") {
		t.Fatalf("secret leaked:\n%s", out)
	}
	for _, w := range []string{`database.url = "postgres://mail:REDACTED@db.example.com/mail"`,
		`smtp.relayhost_password = "REDACTED"`, `listen.smtp = ":25"`, `smtp.message_size_limit = 10240000`} {
		if !strings.Contains(out, w) {
			t.Errorf("dump lacks %s:\n%s", w, out)
		}
	}
	// The dump reads back as a config file (once secrets are put back).
	back := strings.ReplaceAll(out, "REDACTED", "x")
	if _, err := load(t, back, nil); err != nil {
		t.Errorf("dump does not load back: %v", err)
	}
}

func TestParseNextHop(t *testing.T) {
	for _, tc := range []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{"mx.example.com", "mx.example.com", 25, true},
		{"[mx.example.com]:587", "mx.example.com", 587, true},
		{"[192.0.2.1]", "192.0.2.1", 25, true},
		{"[2001:db8::1]:25", "2001:db8::1", 25, true},
		{"relay.example:2525", "relay.example", 2525, true},
		{"[x]:0", "", 0, false},
		{"[x", "", 0, false},
		{"x:port", "", 0, false},
		{"", "", 0, false},
		{"a b", "", 0, false},
	} {
		h, p, err := ParseNextHop(tc.in)
		if (err == nil) != tc.ok || h != tc.host || p != tc.port {
			t.Errorf("ParseNextHop(%q) = %q %d %v", tc.in, h, p, err)
		}
	}
}

// The README's configuration reference lists every key and its variable.
func TestReadmeListsEveryKey(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	c := Default()
	for _, k := range c.Keys() {
		if !strings.Contains(string(readme), "`"+k.Name+"`") || !strings.Contains(string(readme), k.Env) {
			t.Errorf("README.md does not document %s (%s)", k.Name, k.Env)
		}
	}
}
