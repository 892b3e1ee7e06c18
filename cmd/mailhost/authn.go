package main

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailhost/auth"
	"mailhost/config"
)

// newAuthenticator builds the one Authenticator shared by SMTP, IMAP and
// POP3 (so failures over one protocol count for all), from the auth.* and
// password.* keys. Its metrics go to reg.
//
// Its throttle state lives in PostgreSQL (st), shared by every node and
// seen by `mailhost auth blocks`; each node bounds its own concurrent
// hashes.
func newAuthenticator(cfg *config.Config, creds auth.Credentials, st auth.ThrottleStore, reg *prometheus.Registry, log *slog.Logger) (*auth.Authenticator, error) {
	return auth.NewAuthenticator(creds, auth.Options{
		Hasher: hasher(cfg),
		Throttle: auth.ThrottleConfig{
			MaxFailures: cfg.Auth.MaxFailures,
			Block:       time.Duration(cfg.Auth.BlockSeconds) * time.Second,
			Delay:       time.Duration(cfg.Auth.DelayMS) * time.Millisecond,
			KnownFor:    time.Duration(cfg.Auth.KnownClientDays) * 24 * time.Hour,
		},
		ThrottleStore:       st,
		MaxConcurrentHashes: cfg.Auth.MaxConcurrentHashes,
		HashWait:            time.Duration(cfg.Auth.HashWaitSeconds) * time.Second,
		Log:                 log.With("component", "auth"),
		Registry:            reg,
	})
}
