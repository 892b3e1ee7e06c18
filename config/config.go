// Package config is mailhost's one typed configuration: defaults, then a
// TOML file, then MAILHOST_* environment variables, then command-line flags,
// then Validate. Domains and mailboxes live in the database, not here.
package config

import (
	"os"
	"path/filepath"
)

// Config is the whole configuration. Field tags name the TOML keys; the
// environment variable of a key is MAILHOST_ + the dotted key upper-cased
// with dots as underscores (listen.smtp -> MAILHOST_LISTEN_SMTP).
type Config struct {
	// Hostname is the name the server gives itself (Postfix myhostname).
	Hostname string `toml:"hostname" help:"the server's own name, in SMTP greetings and Received headers (myhostname)"`
	// DataDir holds the embedded database, the generated certificate, the Maildir root by default.
	DataDir string `toml:"data_dir" help:"data directory: embedded PostgreSQL cluster, generated TLS certificate, default Maildir root"`
	// MaildirRoot is where mailboxes live: <root>/<domain>/<local part>/.
	MaildirRoot string `toml:"maildir_root" help:"root of the Maildir tree (default <data_dir>/vmail)"`

	Log      Log      `toml:"log"`
	Database Database `toml:"database"`
	Vmail    Vmail    `toml:"vmail"`
	Listen   Listen   `toml:"listen"`
	TLS      TLS      `toml:"tls"`
	SMTP     SMTP     `toml:"smtp"`
	Password Password `toml:"password"`
	Auth     Auth     `toml:"auth"`
	IMAP     IMAP     `toml:"imap"`
	POP3     POP3     `toml:"pop3"`
	Mailbox  Mailbox  `toml:"mailbox"`
	Web      Web      `toml:"web"`
	Metrics  Metrics  `toml:"metrics"`

	Submission Submission `toml:"submission"`
	Queue      Queue      `toml:"queue"`
	SRS        SRS        `toml:"srs"`
	Filter     Filter     `toml:"filter"`
	DNS        DNS        `toml:"dns"`
	Inbound    Inbound    `toml:"inbound"`
	DKIM       DKIM       `toml:"dkim"`
	MTASTS     MTASTS     `toml:"mta_sts"`
	TLSReport  TLSReport  `toml:"tls_report"`
	Runtime    Runtime    `toml:"runtime"`
	Limits     Limits     `toml:"limits"`
	ACME       ACME       `toml:"acme"`
	MailLog    MailLog    `toml:"maillog"`

	Sieve         Sieve         `toml:"sieve"`
	ManageSieve   ManageSieve   `toml:"managesieve"`
	QuotaWarnings QuotaWarnings `toml:"quota_warnings"`

	sources map[string]string // key -> where its value came from
}

// Log configures log/slog output.
type Log struct {
	Level  string `toml:"level" help:"debug, info, warn or error"`
	Format string `toml:"format" help:"text or json"`
}

// Database says where PostgreSQL is.
type Database struct {
	// URL of the database; empty runs the embedded private cluster.
	URL      string `toml:"url" secret:"true" env:"DATABASE_URL" help:"PostgreSQL URL (also $DATABASE_URL); empty runs a private cluster under data_dir"`
	MaxConns int32  `toml:"max_conns" help:"maximum connections in the pool"`
}

// Vmail is the account that owns every Maildir file.
type Vmail struct {
	User string `toml:"user" help:"name of the vmail account, created when missing in the embedded mode as root"`
	UID  int    `toml:"uid" help:"uid mailhost switches to after binding ports when started as root"`
	GID  int    `toml:"gid" help:"gid mailhost switches to after binding ports when started as root"`
}

// Listen holds every listener address; "" means the mode's default and
// "off" disables the listener.
type Listen struct {
	SMTP        string `toml:"smtp" help:"SMTP (MX) listener"`
	Submission  string `toml:"submission" help:"submission (STARTTLS) listener"`
	Submissions string `toml:"submissions" help:"submissions (implicit TLS) listener"`
	IMAP        string `toml:"imap" help:"IMAP (STARTTLS) listener"`
	IMAPS       string `toml:"imaps" help:"IMAP over implicit TLS listener"`
	POP3        string `toml:"pop3" help:"POP3 (STLS) listener"`
	POP3S       string `toml:"pop3s" help:"POP3 over implicit TLS listener"`
	ManageSieve string `toml:"managesieve" help:"ManageSieve (RFC 5804, STARTTLS) listener"`
	HTTP        string `toml:"http" help:"HTTP listener: admin panel, REST API, /healthz, /metrics"`
	HTTPS       string `toml:"https" help:"HTTPS listener: the panel and API over TLS (off by default)"`
}

// TLS names the certificate for every TLS listener and STARTTLS.
type TLS struct {
	CertFile string `toml:"cert_file" help:"PEM certificate chain; empty generates a self-signed one into data_dir/tls"`
	KeyFile  string `toml:"key_file" help:"PEM private key for cert_file"`
}

// SMTP configures the MTA.
type SMTP struct {
	Mynetworks         []string `toml:"mynetworks" help:"client networks trusted to relay (CIDR list)"`
	Relayhost          string   `toml:"relayhost" help:"send all outbound mail through this host ([host]:port); empty uses MX lookup"`
	RelayhostUsername  string   `toml:"relayhost_username" help:"SMTP AUTH user for relayhost"`
	RelayhostPassword  string   `toml:"relayhost_password" secret:"true" help:"SMTP AUTH password for relayhost"`
	MessageSizeLimit   int64    `toml:"message_size_limit" help:"largest message accepted, in bytes"`
	RecipientDelimiter string   `toml:"recipient_delimiter" help:"characters that separate user and extension (user+tag); empty disables"`
	MaxRecipients      int      `toml:"max_recipients" help:"most recipients accepted per message"`
	Timeout            int      `toml:"timeout" help:"seconds an SMTP client may stay silent (or a reply may take to send) before the session ends"`
	MaxErrors          int      `toml:"max_errors" help:"rejected commands after which a session is closed"`
	MaxConnsPerClient  int      `toml:"max_connections_per_client" help:"concurrent connections to the SMTP (MX) listener from one client (IPv6: one /64; mynetworks exempt); 0 = unlimited"`
	MaxLineLength      int      `toml:"max_line_length" help:"longest command or message line accepted, in bytes"`
	MaxReceived        int      `toml:"max_received_headers" help:"Received headers after which a message is refused as a mail loop (hopcount_limit)"`
	DNSBL              []string `toml:"dnsbl" help:"DNS block list zones checked once per connection (e.g. zen.spamhaus.org)"`
	DNSBLAction        string   `toml:"dnsbl_action" help:"what a listed client gets: reject (554), defer (450) or log"`
	OutboundTLS        string   `toml:"outbound_tls" help:"STARTTLS when delivering: none, may (opportunistic), dane (may, with DANE where the resolver authenticates TLSA records), encrypt (required, else retry later) or verify (required with a verified certificate); MTA-STS applies above none"`
	OutboundTLSDomains []string `toml:"outbound_tls_domains" help:"per-domain STARTTLS policy overriding outbound_tls: domain=none, domain=may, domain=dane, domain=encrypt or domain=verify"`
	RelayhostCAFile    string   `toml:"relayhost_ca_file" help:"PEM CA certificates that verify the relayhost's certificate (a private relay host); empty uses the system's roots"`
}

// Metrics says who may read /metrics.
type Metrics struct {
	Allow []string `toml:"allow" help:"client networks (CIDR list) that may read /metrics besides loopback and smtp.mynetworks"`
	Token string   `toml:"token" secret:"true" help:"bearer token that lets any client read /metrics (Authorization: Bearer ...); empty: none"`
}

// Mailbox configures what happens to mailboxes' files.
type Mailbox struct {
	RetentionDays int `toml:"retention_days" help:"days a deleted mailbox's Maildir waits in <data_dir>/retention before it is purged (0: at the next purge)"`
}

// Limits bound the work of protocol sessions.
type Limits struct {
	CommandTimeout int `toml:"command_timeout" help:"seconds one SMTP, IMAP or POP3 command may spend on its database work before it is cancelled"`
}

// Runtime tunes the Go runtime of the server process.
type Runtime struct {
	GCPercent int `toml:"gc_percent" help:"garbage collector target (Go's GOGC) of serve when idle, and the least under load; a $GOGC in the environment wins"`
	// GCMaxHeadroomMiB bounds the garbage the collector's pacing allows
	// under load (package gctune); 0 keeps GCPercent always.
	GCMaxHeadroomMiB int `toml:"gc_max_headroom_mib" help:"MiB of garbage beyond the live heap that serve may let build up under load, to collect less often (costs idle IMAP connections set up meanwhile memory); 0 (default): always gc_percent"`
}

// Web configures the web panel's sessions.
type Web struct {
	SessionIdleMinutes int      `toml:"session_idle_minutes" help:"minutes without a request after which a web panel session ends"`
	SessionMaxHours    int      `toml:"session_max_hours" help:"hours after login at which a web panel session ends, however active"`
	TrustedProxies     []string `toml:"trusted_proxies" help:"addresses or networks of reverse proxies whose X-Forwarded-Proto (https) is believed"`
}

// MailLog bounds what the dashboard and the mail log page keep.
type MailLog struct {
	KeepDays int `toml:"keep_days" help:"days the mail log rows are kept (hourly counts: twice as long, at least 7; minute counts: 2 days)"`
}

// ACME gets certificates from an ACME certificate authority (RFC 8555),
// such as Let's Encrypt, for the host name and the opted-in names of
// hosted domains.
type ACME struct {
	Enabled         bool   `toml:"enabled" help:"order and renew certificates by ACME (HTTP-01 on the HTTP listener, which must be reachable on port 80)"`
	DirectoryURL    string `toml:"directory_url" help:"the ACME directory of the certificate authority"`
	Email           string `toml:"email" help:"contact address of the ACME account (expiry notices)"`
	CAFile          string `toml:"ca_file" help:"PEM roots trusted for the directory's HTTPS (a private or test CA); empty: the system's"`
	RenewBeforeDays int    `toml:"renew_before_days" help:"days before expiry a certificate is renewed"`
	CheckMinutes    int    `toml:"check_minutes" help:"minutes between checks for names to order or renew"`
}

// Password configures hashes of new and changed passwords.
type Password struct {
	Scheme          string `toml:"scheme" help:"scheme of new hashes: ARGON2ID, BLF-CRYPT or SHA512-CRYPT"`
	Argon2Time      uint32 `toml:"argon2_time" help:"ARGON2ID iterations"`
	Argon2MemoryKiB uint32 `toml:"argon2_memory_kib" help:"ARGON2ID memory in KiB"`
	Argon2Threads   uint8  `toml:"argon2_threads" help:"ARGON2ID parallelism"`
	BcryptCost      int    `toml:"bcrypt_cost" help:"BLF-CRYPT cost"`
	SHA512Rounds    int    `toml:"sha512_rounds" help:"SHA512-CRYPT rounds"`
}

// Auth configures logins over SMTP, IMAP and POP3 and their brute-force
// throttling.
type Auth struct {
	MaxFailures            int  `toml:"max_failures" help:"failed logins in a row from one client address or for one account before it is blocked"`
	BlockSeconds           int  `toml:"block_seconds" help:"how long a block lasts, and how long a failure is remembered, in seconds"`
	DelayMS                int  `toml:"delay_ms" help:"pause before answering a failed login, in milliseconds; doubles with each further failure, up to 16 times"`
	AllowPlaintextLoopback bool `toml:"allow_plaintext_loopback" help:"allow logins without TLS from loopback clients (127.0.0.0/8, ::1); others must use TLS"`
	MaxConcurrentHashes    int  `toml:"max_concurrent_hashes" help:"password hashes running at once on this node; 0 = a quarter of the available memory divided by the memory of one hash, at most 2 per CPU"`
	HashWaitSeconds        int  `toml:"hash_wait_seconds" help:"how long a login waits for a free hash slot (or a place in the throttle) before a temporary failure, in seconds"`
	KnownClientDays        int  `toml:"known_client_days" help:"how long a client address that logged in to an account stays exempt from that account's block, in days"`
}

// IMAP configures the IMAP server.
type IMAP struct {
	MaxConnsPerClient int `toml:"max_connections_per_client" help:"concurrent IMAP and IMAPS connections from one client (IPv6: one /64); 0 = unlimited"`
}

// POP3 configures the POP3 server.
type POP3 struct {
	IdleTimeout       int `toml:"idle_timeout" help:"seconds a POP3 client may stay silent before it is disconnected (RFC 1939: at least 600)"`
	MaxConnsPerClient int `toml:"max_connections_per_client" help:"concurrent POP3 and POP3S connections from one client (IPv6: one /64); 0 = unlimited"`
}

// Default returns the built-in defaults, before the mode-dependent ones
// that Finish fills in.
func Default() Config {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	return Config{
		Hostname: host,
		DataDir:  "./data",
		Log:      Log{Level: "info", Format: "text"},
		Database: Database{MaxConns: 20},
		Vmail:    Vmail{User: "vmail", UID: 5000, GID: 5000},
		SMTP: SMTP{
			Mynetworks:         []string{"127.0.0.1/32", "::1/128"},
			MessageSizeLimit:   10240000, // Postfix's default
			RecipientDelimiter: "+",
			MaxRecipients:      1000, // Postfix smtpd_recipient_limit
			Timeout:            300,  // Postfix smtpd_timeout
			MaxErrors:          20,   // Postfix smtpd_hard_error_limit
			MaxConnsPerClient:  50,   // Postfix smtpd_client_connection_count_limit
			MaxLineLength:      16384,
			MaxReceived:        50, // Postfix hopcount_limit
			DNSBL:              []string{},
			DNSBLAction:        "reject",
			OutboundTLS:        "dane", // DANE only where the resolver validates; else may
			OutboundTLSDomains: []string{},
		},
		// ARGON2ID with m=19456 KiB, t=2, p=1: the second of OWASP's equally
		// strong argon2id settings (Password Storage Cheat Sheet), rather
		// than doveadm's m=64 MiB, t=3. A mail server hashes on every login
		// of every IMAP, POP3 and SMTP connection, and clients reconnect
		// often (a phone may hold several IDLE connections and log in again
		// on every network change); 100 logins at once cost 1.9 GiB at 19
		// MiB each but 6.4 GiB at 64 MiB, and a burst of guessing must not
		// push the server into swap. p=1 keeps each login on one core, so
		// concurrent logins spread over the cores instead of competing for
		// them. Hashes that doveadm wrote with stronger parameters are not
		// "upgraded" downwards (auth's NeedsRehash).
		//
		// The other schemes' parameters apply only when password.scheme
		// selects them: bcrypt cost 10, OWASP's minimum (Dovecot's
		// BLF-CRYPT default of 5 is far too low; each step doubles the
		// time, and cost 12 takes ten times as long as the argon2id
		// default), and SHA512-CRYPT with 100000 rounds (20 times glibc's
		// default of 5000, for sites whose other tools read nothing newer).
		// auth's BenchmarkHash measures all three.
		Password: Password{
			Scheme: "ARGON2ID", Argon2Time: 2, Argon2MemoryKiB: 19456, Argon2Threads: 1,
			BcryptCost: 10, SHA512Rounds: 100000,
		},
		Auth: Auth{MaxFailures: 10, BlockSeconds: 900, DelayMS: 500, AllowPlaintextLoopback: true,
			HashWaitSeconds: 10, KnownClientDays: 30},
		// Thunderbird keeps up to 5 IMAP connections per account: 100 lets
		// a household or an office behind one address in.
		IMAP:       IMAP{MaxConnsPerClient: 100},
		POP3:       POP3{IdleTimeout: 600, MaxConnsPerClient: 20},
		Submission: Submission{MaxConnsPerClient: 50},
		Mailbox:    Mailbox{RetentionDays: 30},
		// A mail server mostly holds idle connections: half of Go's default
		// heap headroom keeps each one small for a little more GC work.
		Runtime: Runtime{GCPercent: 50},
		Limits:  Limits{CommandTimeout: 120},
		Web:     Web{SessionIdleMinutes: 30, SessionMaxHours: 12, TrustedProxies: []string{}},
		MailLog: MailLog{KeepDays: 30},
		ACME: ACME{DirectoryURL: "https://acme-v02.api.letsencrypt.org/directory",
			RenewBeforeDays: 30, CheckMinutes: 60},
		Queue:     defaultQueue(),
		SRS:       defaultSRS(),
		Filter:    defaultFilter(),
		Inbound:   defaultInbound(),
		DNS:       defaultDNS(),
		DKIM:      defaultDKIM(),
		MTASTS:    defaultMTASTS(),
		TLSReport: defaultTLSReport(),
		Sieve:     defaultSieve(),
		// Thunderbird's and Roundcube's Sieve clients open one connection
		// at a time.
		ManageSieve:   ManageSieve{MaxConnsPerClient: 20},
		QuotaWarnings: QuotaWarnings{Thresholds: "80,95"},
	}
}

// Embedded reports whether mailhost runs its own private PostgreSQL cluster.
func (c *Config) Embedded() bool { return c.Database.URL == "" }

// PostgresDir is the embedded cluster's data directory.
func (c *Config) PostgresDir() string { return filepath.Join(c.DataDir, "postgres") }

// Enabled reports whether a listen address is set to listen.
func Enabled(addr string) bool { return addr != "" && addr != "off" }

// Finish fills in the defaults that depend on other keys or on the mode:
// the Maildir root under the data dir, the TLS files, and the listen
// addresses (unprivileged loopback ports in the embedded mode, the standard
// ports otherwise).
func (c *Config) Finish() {
	if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs
	}
	if c.MaildirRoot == "" {
		c.MaildirRoot = filepath.Join(c.DataDir, "vmail")
	}
	if c.TLS.CertFile == "" && c.TLS.KeyFile == "" {
		c.TLS.CertFile = filepath.Join(c.DataDir, "tls", "cert.pem")
		c.TLS.KeyFile = filepath.Join(c.DataDir, "tls", "key.pem")
	}
	c.finishFilter()
	def := productionListen()
	if c.Embedded() {
		def = embeddedListen()
	}
	l := &c.Listen
	for _, f := range []struct {
		v   *string
		def string
	}{
		{&l.SMTP, def.SMTP}, {&l.Submission, def.Submission}, {&l.Submissions, def.Submissions},
		{&l.IMAP, def.IMAP}, {&l.IMAPS, def.IMAPS}, {&l.POP3, def.POP3}, {&l.POP3S, def.POP3S},
		{&l.HTTP, def.HTTP}, {&l.HTTPS, def.HTTPS}, {&l.ManageSieve, def.ManageSieve},
	} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
}

// productionListen is the standard ports, used with an external database.
func productionListen() Listen {
	return Listen{
		SMTP: ":25", Submission: ":587", Submissions: ":465",
		IMAP: ":143", IMAPS: ":993", POP3: ":110", POP3S: ":995", HTTP: ":8080", HTTPS: "off", ManageSieve: ":4190",
	}
}

// embeddedListen is unprivileged loopback ports, so the embedded default
// runs without root.
func embeddedListen() Listen {
	return Listen{
		SMTP: "127.0.0.1:2525", Submission: "127.0.0.1:2587", Submissions: "127.0.0.1:2465",
		IMAP: "127.0.0.1:1143", IMAPS: "127.0.0.1:1993", POP3: "127.0.0.1:1110", POP3S: "127.0.0.1:1995",
		HTTP: "127.0.0.1:8080", HTTPS: "off", ManageSieve: "127.0.0.1:14190",
	}
}
