package main

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailhost/auth"
	"mailhost/config"
	"mailhost/connlimit"
	"mailhost/mda"
	"mailhost/mta"
	"mailhost/store"
	"mailhost/tlsrpt"
)

// newSubmissionServers binds the submission listeners (587 STARTTLS, 465
// implicit TLS) before privileges are dropped. They share the MX
// server's configuration, delivery agent and metrics, and log in through
// the Authenticator shared with IMAP and POP3.
func newSubmissionServers(cfg *config.Config, st *store.Store, mx *mta.Server, authn *auth.Authenticator,
	tlsConf *tls.Config, log *slog.Logger) ([]server, error) {
	var out []server
	// 587 and 465 count a client's connections together.
	limit := cfg.Submission.MaxConnsPerClient
	limiter := connlimit.New(limit, mx.Config().Mynetworks)
	filter, err := newFilterStage(cfg, st, log.With("server", "submission"), cfg.Filter.Submission, true)
	if err != nil {
		return nil, err
	}
	for _, l := range []struct {
		key, addr string
		implicit  bool
	}{
		{"listen.submission", cfg.Listen.Submission, false},
		{"listen.submissions", cfg.Listen.Submissions, true},
	} {
		if !config.Enabled(l.addr) {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", l.key, l.addr, err)
		}
		scfg := mx.Config() // with Queued: wakes the workers
		scfg.Submission = mta.Submission{Enabled: true, ImplicitTLS: l.implicit, Auth: authn,
			AllowPlaintextLoopback: cfg.Auth.AllowPlaintextLoopback, ReceivedClientIP: cfg.Submission.ReceivedClientIP}
		scfg.TLS = tlsConf
		scfg.DNSBL = nil // authenticated users are not checked against block lists
		scfg.Filter = filter
		// Inbound stays: submission checks no sender (mta.Inbound) but
		// removes forged Authentication-Results too.
		scfg.MaxConnsPerClient, scfg.Limiter = limit, limiter
		name := "submission"
		if l.implicit {
			name = "submissions"
		}
		out = append(out, mx.Sibling(ln, scfg, log.With("server", name)))
	}
	return out, nil
}

// newMailServers binds the MX and submission listeners and makes the
// queue workers.
func newMailServers(cfg *config.Config, st *store.Store, authn *auth.Authenticator, tlsConf *tls.Config,
	quota *mda.QuotaWarnings, log *slog.Logger, reg prometheus.Registerer) ([]server, error) {
	listen := cfg.Listen.SMTP
	if !config.Enabled(listen) {
		// The MX is off: its server object still carries the submission
		// listeners' shared parts, on a listener nobody is told about.
		listen = "127.0.0.1:0"
	}
	c := *cfg
	c.Listen.SMTP = listen
	mx, err := newSMTPServer(&c, st, tlsConf, quota, log, reg)
	if err != nil {
		return nil, err
	}
	reports, out := tlsReporting(cfg, st, mx, log) // tlsreport.go
	ob, err := newOutbound(cfg, st, mx, reports, log, reg)
	if err != nil {
		return nil, err
	}
	mx.OnQueued(ob.Wake)
	mx.HandOffTo(ob)
	if config.Enabled(cfg.Listen.SMTP) {
		out = append(out, mx)
	} else {
		mx.CloseListener()
	}
	subs, err := newSubmissionServers(cfg, st, mx, authn, tlsConf, log)
	if err != nil {
		return nil, err
	}
	out = append(out, subs...)
	return append(out, ob), nil
}

// newOutbound makes this node's queue workers from the queue.*, smtp.*
// and dns.* keys.
func newOutbound(cfg *config.Config, st *store.Store, mx *mta.Server, reports *tlsrpt.Recorder, log *slog.Logger,
	reg prometheus.Registerer) (*mta.Outbound, error) {
	retry, lifetime, warning := cfg.Queue.Durations()
	idle, reuse := cfg.Queue.ConnCacheTimes()
	tlsDomains, _ := cfg.SMTP.TLSDomains() // validated
	host, _ := os.Hostname()
	var roots *x509.CertPool // nil: the system's
	if f := cfg.SMTP.RelayhostCAFile; f != "" {
		var err error
		if roots, err = config.LoadCAFile(f); err != nil {
			return nil, fmt.Errorf("smtp.relayhost_ca_file: %w", err)
		}
	}
	oc := mta.OutboundConfig{
		Hostname:  cfg.Hostname,
		NodeID:    fmt.Sprintf("%s:%d:%s", host, os.Getpid(), rand.Text()[:8]),
		Relayhost: cfg.SMTP.Relayhost, RelayUser: cfg.SMTP.RelayhostUsername, RelayPassword: cfg.SMTP.RelayhostPassword,
		TLSPolicy: cfg.SMTP.OutboundTLS, TLSDomains: tlsDomains, RootCAs: roots, Retry: retry, MaxLifetime: lifetime, DelayWarning: warning,
		Workers: cfg.Queue.Workers, DestConcurrency: cfg.Queue.DestinationConcurrency,
		Lease: time.Duration(cfg.Queue.LeaseSeconds) * time.Second,
		DNS:   mx.Config().DNS,
		SRS:   mx.Config().SRS,
		DKIM:  mx.Config().DKIM,
		ConnCache: mta.ConnCacheConfig{Off: !cfg.Queue.ConnectionCache, IdleTime: idle, MaxAge: reuse,
			MaxUses: cfg.Queue.ConnectionReuseCountLimit, PerDest: cfg.Queue.ConnectionCacheDestinationLimit,
			Total: cfg.Queue.ConnectionCacheLimit},
	}
	if reports != nil { // a nil *Recorder in the interface would not be nil
		oc.TLSReports = reports
	}
	o, err := mta.NewOutbound(oc, st, log.With("server", "queue"), nil)
	if err != nil {
		return nil, err
	}
	o.SetLocal(st, mx.Agent(), cfg.SMTP.RecipientDelimiter)
	m := o.Metrics()
	if err := m.Register(reg); err != nil {
		return nil, err
	}
	return o, nil
}
