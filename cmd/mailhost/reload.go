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
// configuration file, read again at SIGHUP: log.level takes effect at
// once, and the operator is told which other changed keys wait for a
// restart.
type reloader struct {
	g     *globals
	cfg   *config.Config // as serve started with it
	cert  *tlscert.Reloader
	acme  *acmecert.Manager // nil without acme.enabled
	level *slog.LevelVar    // the process logger's level
	log   *slog.Logger
}

// appliesAtRuntime says whether SIGHUP applies key without a restart (the
// certificate files are followed by their modification times, whatever
// their names).
func appliesAtRuntime(key string) bool { return key == "log.level" }

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

// reload handles one SIGHUP. The certificate and log.level change at
// run time; every other changed key is named as waiting for a restart,
// and a file that does not validate is reported and changes nothing.
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
	if l := logLevel(next); l != r.level.Level() {
		r.level.Set(l)
		// Warn, so that the line is seen whichever way the level went.
		r.log.Warn("SIGHUP: log level changed", "level", l.String())
	}
	var restart []string
	for _, k := range config.Changed(r.cfg, next) {
		if !appliesAtRuntime(k) {
			restart = append(restart, k)
		}
	}
	if len(restart) > 0 {
		r.log.Warn("SIGHUP: changed keys take effect at the next restart", "keys", strings.Join(restart, ","))
	}
}
