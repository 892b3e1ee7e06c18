package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"mailhost/api"
	"mailhost/config"
	"mailhost/gctune"
	"mailhost/maillog"
	"mailhost/tlscert"
)

// server is one long-running part of serve: bound before privileges are
// dropped, run until the context ends, then stopped cleanly.
type server interface {
	Serve(ctx context.Context) error
}

func cmdServe(ctx context.Context, args []string, sio stdio) error {
	fs, g := newFlagSet("serve", sio)
	if _, err := parse(fs, g, args); err != nil {
		return err
	}
	cfg, err := g.load()
	if err != nil {
		return err
	}
	level := new(slog.LevelVar) // SIGHUP changes it (reload.go)
	level.Set(logLevel(cfg))
	log := newLoggerAt(cfg, sio.err, level)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(cfg.Runtime.GCPercent) // from the start, before the pacing's goroutine runs
		go gctune.Run(ctx, gctune.Config{Percent: cfg.Runtime.GCPercent,
			MaxHeadroom: uint64(cfg.Runtime.GCMaxHeadroomMiB) << 20}, log)
	}

	start := time.Now()
	if err := prepareDataDir(cfg, log); err != nil {
		return err
	}
	db, err := openDatabase(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer db.close(ctx)
	// The mail log lines of every server also go to the dashboard's tables
	// (package maillog); the recorder's own warnings do not.
	recorder := newRecorder(cfg, db.Store, log)
	log = slog.New(maillog.NewHandler(log.Handler(), recorder))
	if err := ownDir(cfg, cfg.MaildirRoot); err != nil {
		return fmt.Errorf("maildir root: %w", err)
	}
	unclean, err := markRunning(cfg)
	if err != nil {
		return err
	}
	if !unclean.IsZero() {
		if err := reconcileAtStart(ctx, cfg, db.Store, unclean, log); err != nil {
			return err
		}
	}
	cert, err := tlscert.NewReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.Hostname, cfg.TLS.CertFile == defaultCert(cfg),
		tlscert.Owner{UID: cfg.Vmail.UID, GID: cfg.Vmail.GID})
	if err != nil {
		return err
	}
	tlsConf := &tls.Config{GetCertificate: cert.GetCertificate, MinVersion: tls.VersionTLS12}
	acme, err := newACME(cfg, db.Store, cert, log) // https.go
	if err != nil {
		return err
	}
	if acme != nil {
		tlsConf.GetCertificate = acme.GetCertificate // SNI: ACME names, else the file certificate
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	servers := []server{recorder, reloader{g: g, cfg: cfg, cert: cert, acme: acme, level: level, log: log}} // reload.go: SIGHUP, renewed certificates
	if acme != nil {
		servers = append(servers, acme)
	}
	authn, err := newAuthenticator(cfg, db.Store, db.Store, reg, log)
	if err != nil {
		return err
	}
	// One watcher of quotas: deliveries warn through it at once (their
	// agent, smtp.go), IMAP APPEND and COPY tell it, and it looks over
	// every mailbox each minute for the other ways usage grows.
	quota := quotaWarnings(cfg, db.Store, log)
	if quota != nil {
		servers = append(servers, quota)
	}
	mail, err := newMailServers(cfg, db.Store, authn, tlsConf, quota, log, reg) // MX, submission, queue workers
	if err != nil {
		return err
	}
	servers = append(servers, mail...)
	files, err := newReconciler(cfg, db.Store, log)
	if err != nil {
		return err
	}
	if pop3Srv, err := newPOP3Server(cfg, db.Store, files, authn, tlsConf, reg, log); err != nil {
		return err
	} else if pop3Srv != nil {
		servers = append(servers, pop3Srv)
	}
	if imapSrv, err := newIMAPServer(cfg, db.Store, files, authn, tlsConf, quota, log); err != nil {
		return err
	} else if imapSrv != nil {
		servers = append(servers, imapSrv)
	}
	if msSrv, err := newManageSieveServer(cfg, db.Store, authn, tlsConf, log); err != nil {
		return err
	} else if msSrv != nil {
		servers = append(servers, msSrv)
	}
	adminSvc := newAdminService(cfg, db.Store, authn, log)
	servers = append(servers, purger{svc: adminSvc, log: log}, dkimKeeper{svc: adminSvc, cfg: cfg.DKIM, log: log})
	if config.Enabled(cfg.Listen.HTTP) {
		panel, err := newWebPanel(ctx, cfg, adminSvc, authn, log)
		if err != nil {
			return err
		}
		routes := httpRoutes(db, reg, metricsAccess(cfg), api.New(adminSvc, log), panel, api.MTASTS(adminSvc, log))
		h, err := newHTTPServer("listen.http", cfg.Listen.HTTP, plainHTTP(routes, acme, cfg.Listen.HTTPS, cfg.TLS.CertFile != defaultCert(cfg)), log)
		if err != nil {
			return err
		}
		servers = append(servers, h)
		if config.Enabled(cfg.Listen.HTTPS) {
			hs, err := newHTTPSServer(cfg.Listen.HTTPS, routes, tlsConf, log)
			if err != nil {
				return err
			}
			servers = append(servers, hs)
		}
	}
	if err := dropPrivileges(cfg, log); err != nil {
		return err
	}
	log.Info("mailhost started", "hostname", cfg.Hostname, "embedded_db", cfg.Embedded(),
		"http", cfg.Listen.HTTP, "took", time.Since(start).Round(time.Millisecond))

	grp, gctx := errgroup.WithContext(ctx)
	for _, s := range servers {
		grp.Go(func() error { return s.Serve(gctx) })
	}
	err = grp.Wait()
	log.Info("mailhost stopping")
	if rerr := os.Remove(runningMarker(cfg)); rerr != nil {
		log.Warn("remove the running marker", "err", rerr)
	}
	return err
}

func defaultCert(cfg *config.Config) string {
	def := config.Default()
	def.DataDir = cfg.DataDir
	def.Finish()
	return def.TLS.CertFile
}

// httpRoutes lists every route of the HTTP listener.
// Every answer carries nosniff; /metrics is for the clients metrics
// allows.
func httpRoutes(db api.Pinger, reg *prometheus.Registry, metrics api.MetricsAccess, v1, panel, mtaSTS http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(api.NoSniff)
	r.Get("/healthz", api.Healthz(db))
	r.Get("/.well-known/mta-sts.txt", mtaSTS.ServeHTTP) // for the Host mta-sts.<hosted domain>
	r.Handle("/metrics", metrics.Guard(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	r.Handle(api.Prefix+"/*", v1) // the REST API; its routes are listed in api/routes.go
	r.Handle("/*", panel)         // the web panel; its routes are listed in web/routes.go
	return r
}

// httpServer is the HTTP listener: panel, API, health and metrics.
type httpServer struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

func newHTTPServer(key, addr string, h http.Handler, log *slog.Logger) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", key, addr, err)
	}
	return &httpServer{ln: ln, log: log, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}, nil
}

// Serve answers requests until ctx ends, then lets in-flight requests finish.
func (h *httpServer) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- h.srv.Serve(h.ln) }()
	h.log.Info("http listening", "addr", h.ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

// metricsAccess is who may read /metrics: smtp.mynetworks and
// metrics.allow (both valid after Validate), or metrics.token.
func metricsAccess(cfg *config.Config) api.MetricsAccess {
	m := api.MetricsAccess{Token: cfg.Metrics.Token}
	for _, n := range append(append([]string(nil), cfg.SMTP.Mynetworks...), cfg.Metrics.Allow...) {
		if p, err := config.ParseNetwork(n); err == nil {
			m.Allow = append(m.Allow, p)
		}
	}
	return m
}
