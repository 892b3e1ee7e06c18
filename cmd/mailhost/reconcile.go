package main

import (
	"log/slog"

	"mailhost/config"
	"mailhost/maildir"
	"mailhost/reconcile"
	"mailhost/store"
)

// newReconciler is the node's one Reconciler, shared by IMAP, POP3 and
// the start-up check.
func newReconciler(cfg *config.Config, st *store.Store, log *slog.Logger) (*reconcile.Reconciler, error) {
	names, err := maildir.NewGenerator(cfg.Hostname)
	if err != nil {
		return nil, err
	}
	return &reconcile.Reconciler{Index: st, Grace: reconcile.DefaultGrace, Host: names.Host(),
		Log: log.With("component", "reconcile")}, nil
}
