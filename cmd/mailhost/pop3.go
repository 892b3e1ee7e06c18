package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailhost/config"
	"mailhost/pop3d"
	"mailhost/sasl"
	"mailhost/store"
)

// pop3Server runs the POP3 listeners and releases the node's POP3 mailbox
// locks when they stop.
type pop3Server struct {
	srv   *pop3d.Server
	locks *store.MailboxLocks
}

// newPOP3Server binds listen.pop3 (STLS) and listen.pop3s (implicit TLS),
// "off" skipping one; nil when both are off.
func newPOP3Server(cfg *config.Config, st *store.Store, files pop3d.Files, authn sasl.Authenticator, tlsConf *tls.Config,
	reg *prometheus.Registry, log *slog.Logger) (*pop3Server, error) {
	if !config.Enabled(cfg.Listen.POP3) && !config.Enabled(cfg.Listen.POP3S) {
		return nil, nil
	}
	locks := st.NewMailboxLocks()
	if err := locks.Connect(context.Background()); err != nil {
		return nil, fmt.Errorf("pop3: %w", err)
	}
	srv, err := pop3d.New(pop3d.Config{
		Hostname:               cfg.Hostname,
		MaildirRoot:            cfg.MaildirRoot,
		TLS:                    tlsConf,
		AllowPlaintextLoopback: cfg.Auth.AllowPlaintextLoopback,
		IdleTimeout:            time.Duration(cfg.POP3.IdleTimeout) * time.Second,
		CommandTimeout:         time.Duration(cfg.Limits.CommandTimeout) * time.Second,
		MaxConnsPerClient:      cfg.POP3.MaxConnsPerClient,
		Log:                    log.With("server", "pop3"),
		Registry:               reg,
	}, authn, st, files, locks)
	if err != nil {
		return nil, err
	}
	for _, l := range []struct {
		key, addr string
		tls       bool
	}{{"listen.pop3", cfg.Listen.POP3, false}, {"listen.pop3s", cfg.Listen.POP3S, true}} {
		if !config.Enabled(l.addr) {
			continue
		}
		if _, err := srv.Listen(l.addr, l.tls); err != nil {
			return nil, fmt.Errorf("%s: %w", l.key, err)
		}
	}
	return &pop3Server{srv: srv, locks: locks}, nil
}

// Serve runs until ctx ends.
func (p *pop3Server) Serve(ctx context.Context) error {
	defer p.locks.Close()
	return p.srv.Serve(ctx)
}
