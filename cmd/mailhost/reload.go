package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"mailhost/acmecert"
	"mailhost/config"
	"mailhost/tlscert"
)

// reloader is the part of serve that follows changes while it runs: the
// TLS certificate files, checked every minute and at SIGHUP, and the
// configuration file, read again at SIGHUP to tell the operator which
// changed keys wait for a restart.
type reloader struct {
	g    *globals
	cfg  *config.Config // as serve started with it
	cert *tlscert.Reloader
	acme *acmecert.Manager // nil without acme.enabled
	log  *slog.Logger
}

// certCheckInterval is how often the certificate files' modification
// times are compared.
const certCheckInterval = time.Minute

// Serve runs until ctx ends.
func (r reloader) Serve(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go r.cert.Watch(ctx, certCheckInterval, r.log)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			r.reload()
		}
	}
}

// reload handles one SIGHUP. The certificate is the one thing that
// changes at run time today; every other changed key is named as
// waiting for a restart, and a file that does not validate is reported
// and changes nothing.
func (r reloader) reload() {
	r.log.Info("SIGHUP: reloading")
	r.cert.ReloadNow(r.log)
	if r.acme != nil {
		r.acme.Check() // orders what is missing or due now
	}
	next, err := r.g.load()
	if err != nil {
		r.log.Warn("SIGHUP: the configuration does not validate; nothing changed", "err", oneLine(err))
		return
	}
	if changed := config.Changed(r.cfg, next); len(changed) > 0 {
		r.log.Warn("SIGHUP: changed keys take effect at the next restart", "keys", strings.Join(changed, ","))
	}
}
