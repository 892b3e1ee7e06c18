package main

import (
	"log/slog"
	"time"

	"mailhost/config"
	"mailhost/mda"
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
