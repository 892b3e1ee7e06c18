package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"mailhost/acmecert"
	"mailhost/config"
	"mailhost/store"
	"mailhost/tlscert"
)

// newACME returns the ACME manager when acme.enabled: it serves the
// certificates it holds and falls back to the file certificate.
func newACME(cfg *config.Config, st *store.Store, files *tlscert.Reloader, log *slog.Logger) (*acmecert.Manager, error) {
	if !cfg.ACME.Enabled {
		return nil, nil
	}
	hc := &http.Client{Timeout: time.Minute}
	if cfg.ACME.CAFile != "" {
		pool, err := config.LoadCAFile(cfg.ACME.CAFile)
		if err != nil {
			return nil, fmt.Errorf("acme.ca_file: %w", err)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Proxy: http.ProxyFromEnvironment}
	}
	return acmecert.New(acmecert.Config{
		Hostname: cfg.Hostname, Directory: cfg.ACME.DirectoryURL, Email: cfg.ACME.Email, HTTPClient: hc,
		RenewBefore: time.Duration(cfg.ACME.RenewBeforeDays) * 24 * time.Hour,
		Check:       time.Duration(cfg.ACME.CheckMinutes) * time.Minute,
		Fallback:    files.GetCertificate, Log: log,
	}, st), nil
}

// plainHTTP is the handler of the HTTP listener: the ACME challenges
// first; then, when the HTTPS listener is on and the request's name has a
// certificate of its own (from ACME, or the operator's files), a
// permanent redirect to HTTPS for everything but /healthz and /metrics.
func plainHTTP(h http.Handler, acme *acmecert.Manager, httpsAddr string, operatorCert bool) http.Handler {
	if config.Enabled(httpsAddr) {
		_, port, _ := net.SplitHostPort(httpsAddr)
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host := r.Host
			if hn, _, err := net.SplitHostPort(host); err == nil {
				host = hn
			}
			certified := operatorCert || acme != nil && acme.Has(host)
			if !certified || r.URL.Path == "/healthz" || r.URL.Path == "/metrics" {
				next.ServeHTTP(w, r)
				return
			}
			target := "https://" + host
			if port != "443" {
				target += ":" + port
			}
			// 308 keeps the method and body of API requests.
			http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusPermanentRedirect)
		})
	}
	if acme != nil {
		h = acme.ChallengeHandler(h)
	}
	return h
}

// newHTTPSServer is the HTTPS listener: the same routes as HTTP, over TLS
// with the certificate of each SNI name.
func newHTTPSServer(addr string, h http.Handler, tlsConf *tls.Config, log *slog.Logger) (*httpServer, error) {
	s, err := newHTTPServer("listen.https", addr, h, log)
	if err != nil {
		return nil, err
	}
	conf := tlsConf.Clone()
	conf.NextProtos = []string{"http/1.1"}
	s.ln = tls.NewListener(s.ln, conf)
	return s, nil
}
