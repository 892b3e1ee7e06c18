package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"mailhost/admin"
	"mailhost/config"
	"mailhost/maildir"
	"mailhost/store"
)

// newAdminService is the provisioning service of serve and of the
// provisioning commands, configured from cfg. logins (serve's
// Authenticator) throttles its password and token checks; the commands,
// which check none, pass nil.
func newAdminService(cfg *config.Config, st *store.Store, logins admin.LoginGuard, log *slog.Logger) *admin.Service {
	return admin.New(st, admin.Options{
		Hasher:        hasher(cfg),
		MaildirRoot:   cfg.MaildirRoot,
		RetentionRoot: filepath.Join(cfg.DataDir, "retention"),
		RetentionDays: cfg.Mailbox.RetentionDays,
		Owner:         maildir.Owner{UID: cfg.Vmail.UID, GID: cfg.Vmail.GID},
		Log:           log,
		TOTPIssuer:    cfg.Hostname, // how authenticator apps name the account's server
		Logins:        logins,
		DNS:           mailDNS(cfg),
		Resolver:      resolver(cfg),

		SieveMaxScriptSize: cfg.Sieve.MaxScriptSize,
		SieveMaxScripts:    cfg.Sieve.MaxScripts,
	})
}

// purger removes expired retained Maildirs once an hour while serve runs.
type purger struct {
	svc *admin.Service
	log *slog.Logger
}

func (p purger) Serve(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := p.svc.PurgeRetained(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("purge retained maildirs", "err", err)
		} else if n > 0 {
			p.log.Info("purged retained maildirs", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
