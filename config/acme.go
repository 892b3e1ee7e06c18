package config

import (
	"net/url"
)

// validateWebAndACME checks the HTTPS listener's companions: the trusted
// proxies of the panel and the ACME settings.
func (c *Config) validateWebAndACME(bad reporter) {
	for _, n := range c.Web.TrustedProxies {
		if _, err := ParseNetwork(n); err != nil {
			bad("web.trusted_proxies", "%q is not an address or network: %v", n, err)
		}
	}
	if d := c.MailLog.KeepDays; d < 1 || d > 3650 {
		bad("maillog.keep_days", "must be from 1 to 3650, got %d", d)
	}
	a := c.ACME
	if !a.Enabled {
		return
	}
	if u, err := url.Parse(a.DirectoryURL); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("acme.directory_url", "must be an https:// URL, got %q", a.DirectoryURL)
	}
	if a.RenewBeforeDays < 1 || a.RenewBeforeDays > 365 {
		bad("acme.renew_before_days", "must be from 1 to 365, got %d", a.RenewBeforeDays)
	}
	if a.CheckMinutes < 1 || a.CheckMinutes > 24*60 {
		bad("acme.check_minutes", "must be from 1 to 1440, got %d", a.CheckMinutes)
	}
	if a.CAFile != "" {
		if _, err := LoadCAFile(a.CAFile); err != nil {
			bad("acme.ca_file", "%v", err)
		}
	}
	if !Enabled(c.Listen.HTTP) {
		bad("acme.enabled", "needs listen.http: the certificate authority checks the HTTP-01 challenge there (port 80)")
	}
}
