package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"mailhost/config"
	"mailhost/mta"
	"mailhost/store"
	"mailhost/tlsrpt"
)

// tlsReporting is the RFC 8460 reporting of a node (tls_report.*): the
// recorder the queue workers count into and the daily sender, both
// servers of serve; nil and none when tls_report.enabled is off.
func tlsReporting(cfg *config.Config, st *store.Store, mx *mta.Server, log *slog.Logger) (*tlsrpt.Recorder, []server) {
	t := cfg.TLSReport
	if !t.Enabled {
		return nil, nil
	}
	log = log.With("server", "tlsrpt")
	from := t.Sender(cfg.Hostname)
	sub := tlsrpt.Submitter{Organization: t.Organization, Contact: t.Contact, Host: cfg.Hostname}
	if sub.Organization == "" {
		sub.Organization = cfg.Hostname
	}
	if sub.Contact == "" {
		sub.Contact = from
	}
	rec := &tlsrpt.Recorder{Store: st, Log: log}
	dns := mx.Config().DNS
	// https rua hosts are found by dns.resolver, as MTA-STS policy hosts.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = dns.Dialer(30 * time.Second)
	snd := &tlsrpt.Sender{Submitter: sub, From: from, Store: st, DNS: dns, Log: log, Keep: t.KeepDays,
		Mail: reportMailer(cfg, st, mx, log), HTTP: &http.Client{Timeout: time.Minute, Transport: tr}}
	return rec, []server{rec, snd}
}

// reportMailer sends a report mail as sendmail would (mta.Inject: local
// rua addresses get it at once, remote ones through the queue, signed by
// the sender domain's DKIM keys).
func reportMailer(cfg *config.Config, st *store.Store, mx *mta.Server, log *slog.Logger) tlsrpt.Mailer {
	return func(ctx context.Context, from string, to []string, msg []byte) error {
		res, err := mta.Inject(ctx, st, mx.Agent(), mta.Injection{Hostname: cfg.Hostname, Sender: from, User: "tlsrpt",
			Delims: cfg.SMTP.RecipientDelimiter, Recipients: to, Message: msg, DKIM: mx.Config().DKIM})
		if err != nil {
			return fmt.Errorf("queueing the report: %w", err)
		}
		log.Info("accepted", "queue_id", res.ID, "origin", "tlsrpt", "from", from, "rcpts", to, "size", len(msg),
			"delivered", res.Delivered, "queued", res.Queued)
		return nil
	}
}
