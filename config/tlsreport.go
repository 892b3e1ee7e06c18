package config

import "net/mail"

// TLSReport configures the RFC 8460 aggregate reports that mailhost
// sends, once a day, to destination domains publishing a "_smtp._tls"
// record about the TLS sessions its queue made to their MX hosts.
type TLSReport struct {
	Enabled      bool   `toml:"enabled" help:"count outbound TLS results per day and send each destination domain that asks for them (a _smtp._tls TXT record) the previous day's RFC 8460 report, by mail or HTTPS"`
	From         string `toml:"from" help:"sender of the report mails; on a hosted domain, so that they are DKIM-signed as RFC 8460 asks (empty: postmaster@ the host name)"`
	Organization string `toml:"organization" help:"organization-name of the reports (empty: the host name)"`
	Contact      string `toml:"contact" help:"contact-info of the reports (empty: the sender address)"`
	KeepDays     int    `toml:"keep_days" help:"days of counts kept in the database"`
}

func defaultTLSReport() TLSReport { return TLSReport{KeepDays: 14} }

// Sender is the reports' sender address.
func (t TLSReport) Sender(hostname string) string {
	if t.From != "" {
		return t.From
	}
	return "postmaster@" + hostname
}

func (c *Config) validateTLSReport(bad func(key, format string, a ...any)) {
	if f := c.TLSReport.From; f != "" {
		if a, err := mail.ParseAddress(f); err != nil || a.Address != f || a.Name != "" {
			bad("tls_report.from", "must be a bare address such as tlsrpt@example.com, got %q", f)
		}
	}
	if d := c.TLSReport.KeepDays; d < 2 || d > 366 {
		bad("tls_report.keep_days", "must be from 2 to 366, got %d", d)
	}
}
