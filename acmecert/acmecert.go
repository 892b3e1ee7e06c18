// Package acmecert gets certificates from an ACME certificate authority
// (RFC 8555, Let's Encrypt and the like) for the server's host name and
// the mail., autoconfig. and mta-sts. names of the hosted domains that
// opted in, keeps them in the database for every node, renews them before
// they expire, and hands the right one to each TLS handshake by its SNI
// name.
//
// One node at a time orders (a database advisory lock); challenges are
// HTTP-01, answered from the database by whichever node the authority
// reaches on port 80.
package acmecert

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"mailhost/store"
)

// Store is what the manager needs from the database. *store.Store
// satisfies it.
type Store interface {
	ACMEAccountKey(ctx context.Context, directory string) ([]byte, error)
	SaveACMEAccountKey(ctx context.Context, directory string, key []byte) ([]byte, error)
	ACMECertificates(ctx context.Context) ([]store.ACMECertificate, error)
	SaveACMECertificate(ctx context.Context, c store.ACMECertificate) error
	SetACMEChallenge(ctx context.Context, token, response string, expires time.Time) error
	ACMEChallenge(ctx context.Context, token string) (string, error)
	ACMEDomains(ctx context.Context) ([]string, error)
	WithACMELock(ctx context.Context, fn func(context.Context) error) (bool, error)
}

var _ Store = (*store.Store)(nil)

// Config configures the manager.
type Config struct {
	Hostname    string // always wanted
	Directory   string // the ACME directory URL
	Email       string // the account's contact, may be empty
	HTTPClient  *http.Client
	RenewBefore time.Duration
	Check       time.Duration // between passes over the wanted names
	// Fallback serves the handshakes of names without a certificate of
	// their own (the configured or generated certificate).
	Fallback func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	Log      *slog.Logger
}

// Manager orders, renews and serves the certificates.
type Manager struct {
	cfg Config
	st  Store

	kick chan struct{} // Check asks for a pass now

	mu    sync.RWMutex
	certs map[string]*tls.Certificate // by name
	stamp time.Time                   // newest updated_at loaded
}

// New returns a manager; Serve runs its orders and reloads.
func New(cfg Config, st Store) *Manager {
	return &Manager{cfg: cfg, st: st, certs: map[string]*tls.Certificate{}, kick: make(chan struct{}, 1)}
}

// GetCertificate is tls.Config.GetCertificate: the certificate of the
// SNI name, the host name's for clients that send none (or a name without
// one of its own... as IMAP clients connecting by address do), else the
// fallback.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	m.mu.RLock()
	c := m.certs[name]
	if c == nil && name == "" {
		c = m.certs[strings.ToLower(m.cfg.Hostname)]
	}
	m.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	return m.cfg.Fallback(hello)
}

// Serve loads the stored certificates, then every Check interval orders
// what is missing or due for renewal (on the node that gets the lock) and
// loads what another node stored, until ctx ends.
func (m *Manager) Serve(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	reload := time.NewTicker(min(m.cfg.Check, time.Minute))
	defer reload.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reload.C:
			m.load(ctx)
		case <-m.kick:
			t.Reset(0)
		case <-t.C:
			m.load(ctx)
			if _, err := m.st.WithACMELock(ctx, m.pass); err != nil && ctx.Err() == nil {
				m.cfg.Log.Warn("acme: pass failed", "err", err)
			}
			m.load(ctx)
			t.Reset(m.cfg.Check)
		}
	}
}

// Check asks for a pass over the wanted names now (SIGHUP), as when a
// domain opted in.
func (m *Manager) Check() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// load reads the stored certificates when any changed.
func (m *Manager) load(ctx context.Context) {
	rows, err := m.st.ACMECertificates(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.cfg.Log.Warn("acme: load certificates", "err", err)
		}
		return
	}
	var newest time.Time
	for _, r := range rows {
		if r.UpdatedAt.After(newest) {
			newest = r.UpdatedAt
		}
	}
	m.mu.RLock()
	same := newest.Equal(m.stamp) && len(rows) == len(m.certs)
	m.mu.RUnlock()
	if same {
		return
	}
	certs := map[string]*tls.Certificate{}
	for _, r := range rows {
		c, err := tls.X509KeyPair(r.ChainPEM, r.KeyPEM)
		if err != nil {
			m.cfg.Log.Warn("acme: a stored certificate does not load", "name", r.Name, "err", err)
			continue
		}
		certs[r.Name] = &c
	}
	m.mu.Lock()
	m.certs, m.stamp = certs, newest
	m.mu.Unlock()
}

// wanted lists the names to hold certificates for.
func (m *Manager) wanted(ctx context.Context) ([]string, error) {
	names := []string{strings.ToLower(m.cfg.Hostname)}
	doms, err := m.st.ACMEDomains(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range doms {
		for _, p := range []string{"mail.", "autoconfig.", "mta-sts."} {
			if n := p + d; n != names[0] {
				names = append(names, n)
			}
		}
	}
	return names, nil
}

// pass orders a certificate for every wanted name that has none or whose
// certificate expires within RenewBefore. A failure for one name is
// logged and the others go on; the next pass tries it again.
func (m *Manager) pass(ctx context.Context) error {
	names, err := m.wanted(ctx)
	if err != nil {
		return err
	}
	have, err := m.st.ACMECertificates(ctx)
	if err != nil {
		return err
	}
	expires := map[string]time.Time{}
	for _, c := range have {
		expires[c.Name] = c.NotAfter
	}
	var client *orderClient
	for _, name := range names {
		if na, ok := expires[name]; ok && time.Until(na) > m.cfg.RenewBefore {
			continue
		}
		if client == nil {
			if client, err = m.client(ctx); err != nil {
				return err
			}
		}
		start := time.Now()
		c, err := client.order(ctx, name)
		if err != nil {
			m.cfg.Log.Warn("acme: no certificate", "name", name, "err", err)
			continue
		}
		if err := m.st.SaveACMECertificate(ctx, c); err != nil {
			return err
		}
		m.cfg.Log.Info("acme: certificate issued", "name", name, "not_after", c.NotAfter.UTC().Format(time.RFC3339),
			"renewal", !expires[name].IsZero(), "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// ChallengeHandler answers the authority's HTTP-01 requests under
// /.well-known/acme-challenge/ from the database; other paths go to next.
func (m *Manager) ChallengeHandler(next http.Handler) http.Handler {
	const prefix = "/.well-known/acme-challenge/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		resp, err := m.st.ACMEChallenge(r.Context(), token)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(resp))
	})
}

// Has reports whether a certificate is held for name.
func (m *Manager) Has(name string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.certs[strings.ToLower(name)] != nil
}
