package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"mailhost/config"
	"mailhost/managesieve"
	"mailhost/mda"
	"mailhost/sasl"
	"mailhost/sieve"
	"mailhost/store"
)

// sieveFilter is the Sieve stage of every local delivery of this node
// (SMTP, the queue's local deliveries, sendmail).
func sieveFilter(cfg *config.Config, st *store.Store, log *slog.Logger) *mda.Filter {
	s := cfg.Sieve
	return &mda.Filter{
		Store:    st,
		Hostname: cfg.Hostname,
		Options:  sieve.Options{MaxScriptSize: s.MaxScriptSize},
		Limits: sieve.Limits{MaxActions: s.MaxActions, MaxRedirects: max(s.MaxRedirects, 0),
			MaxRunTime: time.Duration(s.MaxRunMS) * time.Millisecond},
		RedirectsPerDay: s.RedirectsPerDay,
		Log:             log.With("server", "sieve"),
	}
}

// newManageSieveServer binds the ManageSieve listener (before privileges
// are dropped); nil when listen.managesieve is off.
func newManageSieveServer(cfg *config.Config, st *store.Store, authn sasl.Authenticator, tlsConf *tls.Config, log *slog.Logger) (*managesieve.Server, error) {
	if !config.Enabled(cfg.Listen.ManageSieve) {
		return nil, nil
	}
	srv := managesieve.New(managesieve.Config{
		Hostname:               cfg.Hostname,
		TLS:                    tlsConf,
		AllowPlaintextLoopback: cfg.Auth.AllowPlaintextLoopback,
		MaxScriptSize:          cfg.Sieve.MaxScriptSize,
		MaxScripts:             cfg.Sieve.MaxScripts,
		MaxRedirects:           cfg.Sieve.MaxRedirects,
		CommandTimeout:         time.Duration(cfg.Limits.CommandTimeout) * time.Second,
		MaxConnsPerClient:      cfg.ManageSieve.MaxConnsPerClient,
		Log:                    log.With("server", "managesieve"),
	}, authn, st)
	if _, err := srv.Listen(cfg.Listen.ManageSieve); err != nil {
		return nil, fmt.Errorf("listen.managesieve: %w", err)
	}
	return srv, nil
}

// quotaWarnings warns owners as their mailboxes fill: deliveries through
// their agent's, IMAP and everything else through serve's, which runs
// (mda.QuotaWarnings.Serve); nil when quota_warnings.thresholds is empty.
func quotaWarnings(cfg *config.Config, st *store.Store, log *slog.Logger) *mda.QuotaWarnings {
	ts := cfg.QuotaWarnings.Percentages()
	if len(ts) == 0 {
		return nil
	}
	return &mda.QuotaWarnings{Store: st, Thresholds: ts, Hostname: cfg.Hostname, Log: log.With("server", "quota")}
}
