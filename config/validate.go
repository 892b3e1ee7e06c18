package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// Validate checks every key and returns all problems at once, each an
// *Error naming the key and what is allowed. Call it after Finish.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, &Error{Key: key, Source: c.source(key), Msg: fmt.Sprintf(format, a...)})
	}
	if len(c.Hostname) > 253 || !hostnameRE.MatchString(c.Hostname) {
		bad("hostname", "must be a DNS host name such as mail.example.com, got %q", c.Hostname)
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	if c.MaildirRoot == "" {
		bad("maildir_root", "must not be empty")
	}
	oneOf(bad, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(bad, "log.format", c.Log.Format, "text", "json")
	if c.Database.MaxConns < 2 {
		bad("database.max_conns", "must be at least 2, got %d", c.Database.MaxConns)
	}
	if c.Vmail.User == "" {
		bad("vmail.user", "must not be empty")
	}
	if c.Vmail.UID <= 0 || c.Vmail.UID > 1<<31-1 {
		bad("vmail.uid", "must be a uid from 1 to 2147483647 (mail is never stored as root), got %d", c.Vmail.UID)
	}
	if c.Vmail.GID <= 0 || c.Vmail.GID > 1<<31-1 {
		bad("vmail.gid", "must be a gid from 1 to 2147483647, got %d", c.Vmail.GID)
	}
	c.validateListen(bad)
	c.validateInbound(bad)
	for _, l := range []struct {
		key string
		n   int
	}{
		{"smtp.max_connections_per_client", c.SMTP.MaxConnsPerClient},
		{"submission.max_connections_per_client", c.Submission.MaxConnsPerClient},
		{"imap.max_connections_per_client", c.IMAP.MaxConnsPerClient},
		{"pop3.max_connections_per_client", c.POP3.MaxConnsPerClient},
	} {
		if l.n < 0 {
			bad(l.key, "must be 0 (unlimited) or more, got %d", l.n)
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls.key_file", "tls.cert_file and tls.key_file must be given together")
	}
	c.validateSMTP(bad)
	c.validateMetrics(bad)
	c.validatePassword(bad)
	if c.Runtime.GCPercent < 10 || c.Runtime.GCPercent > 1000 {
		bad("runtime.gc_percent", "must be from 10 to 1000, got %d", c.Runtime.GCPercent)
	}
	if c.Runtime.GCMaxHeadroomMiB < 0 || c.Runtime.GCMaxHeadroomMiB > 4096 {
		bad("runtime.gc_max_headroom_mib", "must be from 0 to 4096, got %d", c.Runtime.GCMaxHeadroomMiB)
	}
	if t := c.Limits.CommandTimeout; t < 1 || t > 3600 {
		bad("limits.command_timeout", "must be from 1 to 3600 seconds, got %d", t)
	}
	if c.Mailbox.RetentionDays < 0 || c.Mailbox.RetentionDays > 3650 {
		bad("mailbox.retention_days", "must be from 0 to 3650 days, got %d", c.Mailbox.RetentionDays)
	}
	c.validateAuth(bad)
	c.validateOutbound(bad)
	c.validateWebAndACME(bad)
	c.validateSRS(bad)
	c.validateFilter(bad)
	c.validateDKIM(bad)
	c.validateTLSReport(bad)
	c.validateSieve(bad)
	if m := c.Web.SessionIdleMinutes; m < 1 || m > 7*24*60 {
		bad("web.session_idle_minutes", "must be from 1 to 10080 (a week), got %d", m)
	}
	if h := c.Web.SessionMaxHours; h < 1 || h > 90*24 {
		bad("web.session_max_hours", "must be from 1 to 2160 (90 days), got %d", h)
	}
	return errors.Join(errs...)
}

type reporter func(key, format string, a ...any)

// between reports key's value v outside lo to hi.
func between(bad reporter, key string, v, lo, hi int) {
	if v < lo || v > hi {
		bad(key, "must be from %d to %d, got %d", lo, hi, v)
	}
}

func oneOf(bad reporter, key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	bad(key, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
}

func (c *Config) validateListen(bad reporter) {
	l := c.Listen
	for _, f := range []struct{ key, v string }{
		{"listen.smtp", l.SMTP}, {"listen.submission", l.Submission}, {"listen.submissions", l.Submissions},
		{"listen.imap", l.IMAP}, {"listen.imaps", l.IMAPS}, {"listen.pop3", l.POP3}, {"listen.pop3s", l.POP3S},
		{"listen.http", l.HTTP}, {"listen.https", l.HTTPS}, {"listen.managesieve", l.ManageSieve},
	} {
		if f.v == "off" || f.v == "" {
			continue
		}
		if err := checkHostPort(f.v); err != nil {
			bad(f.key, "must be host:port (such as 127.0.0.1:25, [::1]:25, :25) or off: %v", err)
		}
	}
}

func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

func (c *Config) validateSMTP(bad reporter) {
	s := c.SMTP
	for _, n := range s.Mynetworks {
		if _, err := ParseNetwork(n); err != nil {
			bad("smtp.mynetworks", "%q is not an IP address or CIDR network such as 192.0.2.0/24", n)
		}
	}
	if s.Relayhost != "" {
		if _, _, err := ParseNextHop(s.Relayhost); err != nil {
			bad("smtp.relayhost", "must be host, host:port, [host] or [host]:port: %v", err)
		}
	}
	if s.RelayhostPassword != "" && s.RelayhostUsername == "" {
		bad("smtp.relayhost_username", "must be set when smtp.relayhost_password is")
	}
	if s.MessageSizeLimit <= 0 {
		bad("smtp.message_size_limit", "must be a positive number of bytes, got %d", s.MessageSizeLimit)
	}
	if strings.ContainsAny(s.RecipientDelimiter, "@\"\\ \t\r\n") {
		bad("smtp.recipient_delimiter", "must not contain @, quotes, backslashes or spaces, got %q", s.RecipientDelimiter)
	}
	if s.MaxRecipients < 1 {
		bad("smtp.max_recipients", "must be at least 1, got %d", s.MaxRecipients)
	}
	if s.Timeout < 1 {
		bad("smtp.timeout", "must be at least 1 second, got %d", s.Timeout)
	}
	if s.MaxErrors < 1 {
		bad("smtp.max_errors", "must be at least 1, got %d", s.MaxErrors)
	}
	if s.MaxLineLength < 1000 { // RFC 5321 4.5.3.1.6: 1000 octets with CRLF
		bad("smtp.max_line_length", "must be at least 1000 (RFC 5321 4.5.3.1.6), got %d", s.MaxLineLength)
	}
	if s.MaxReceived < 1 {
		bad("smtp.max_received_headers", "must be at least 1, got %d", s.MaxReceived)
	}
	for _, z := range s.DNSBL {
		if len(z) > 253 || !hostnameRE.MatchString(z) {
			bad("smtp.dnsbl", "%q is not a DNS zone name such as zen.spamhaus.org", z)
		}
	}
	oneOf(bad, "smtp.dnsbl_action", s.DNSBLAction, "reject", "defer", "log")
}

func (c *Config) validatePassword(bad reporter) {
	p := c.Password
	oneOf(bad, "password.scheme", p.Scheme, "ARGON2ID", "BLF-CRYPT", "SHA512-CRYPT")
	if p.Argon2Time < 1 {
		bad("password.argon2_time", "must be at least 1, got %d", p.Argon2Time)
	}
	if p.Argon2MemoryKiB < 8*uint32(max(p.Argon2Threads, 1)) || p.Argon2MemoryKiB > 4<<20 {
		bad("password.argon2_memory_kib", "must be from 8 KiB per thread (password.argon2_threads) to 4194304 KiB, got %d", p.Argon2MemoryKiB)
	}
	if p.Argon2Threads < 1 {
		bad("password.argon2_threads", "must be at least 1, got %d", p.Argon2Threads)
	}
	if p.BcryptCost < 4 || p.BcryptCost > 31 {
		bad("password.bcrypt_cost", "must be from 4 to 31, got %d", p.BcryptCost)
	}
	if p.SHA512Rounds < 1000 || p.SHA512Rounds > 999999999 {
		bad("password.sha512_rounds", "must be from 1000 to 999999999, got %d", p.SHA512Rounds)
	}
}

func (c *Config) validateAuth(bad reporter) {
	a := c.Auth
	if a.MaxFailures < 1 || a.MaxFailures > 1000000 {
		bad("auth.max_failures", "must be from 1 to 1000000, got %d", a.MaxFailures)
	}
	if a.BlockSeconds < 1 || a.BlockSeconds > 7*86400 {
		bad("auth.block_seconds", "must be from 1 to 604800 (a week), got %d", a.BlockSeconds)
	}
	if a.DelayMS < 0 || a.DelayMS > 60000 {
		bad("auth.delay_ms", "must be from 0 to 60000, got %d", a.DelayMS)
	}
	if a.MaxConcurrentHashes < 0 || a.MaxConcurrentHashes > 10000 {
		bad("auth.max_concurrent_hashes", "must be from 0 (sized from memory) to 10000, got %d", a.MaxConcurrentHashes)
	}
	if a.HashWaitSeconds < 1 || a.HashWaitSeconds > 300 {
		bad("auth.hash_wait_seconds", "must be from 1 to 300, got %d", a.HashWaitSeconds)
	}
	if a.KnownClientDays < 1 || a.KnownClientDays > 3650 {
		bad("auth.known_client_days", "must be from 1 to 3650, got %d", a.KnownClientDays)
	}
	if t := c.POP3.IdleTimeout; t < 10 || t > 86400 {
		bad("pop3.idle_timeout", "must be from 10 to 86400 seconds (RFC 1939 asks for at least 600), got %d", t)
	}
}

// ParseNetwork reads a mynetworks entry: a CIDR prefix or a single address.
func ParseNetwork(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseNextHop reads a next hop in Postfix's notation ("[host]:port" and
// "[host]" skip the MX lookup; "host" and "host:port" do not) and returns
// the host and the port, 25 when absent.
func ParseNextHop(s string) (host string, port int, err error) {
	port = 25
	rest := s
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return "", 0, fmt.Errorf("%q has no closing ]", s)
		}
		host, rest = rest[1:end], rest[end+1:]
	} else {
		host = rest
		if i := strings.LastIndex(rest, ":"); i >= 0 {
			host, rest = rest[:i], rest[i:]
		} else {
			rest = ""
		}
	}
	if rest != "" {
		if !strings.HasPrefix(rest, ":") {
			return "", 0, fmt.Errorf("%q: unexpected %q after the host", s, rest)
		}
		port, err = strconv.Atoi(rest[1:])
		if err != nil || port < 1 || port > 65535 {
			return "", 0, fmt.Errorf("%q: port must be a number from 1 to 65535", s)
		}
	}
	if host == "" || strings.ContainsAny(host, " \t/@[]") {
		return "", 0, fmt.Errorf("%q: bad host name", s)
	}
	return host, port, nil
}

func (c *Config) validateMetrics(bad reporter) {
	for _, n := range c.Metrics.Allow {
		if _, err := ParseNetwork(n); err != nil {
			bad("metrics.allow", "%q is not an IP address or CIDR network such as 192.0.2.0/24", n)
		}
	}
	if t := c.Metrics.Token; t != "" && (len(t) < 16 || strings.ContainsAny(t, " \t\r\n")) {
		bad("metrics.token", "must be at least 16 characters without white space")
	}
}
