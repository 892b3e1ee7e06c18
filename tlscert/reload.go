package tlscert

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Reloader serves the key pair of two files to every TLS handshake and
// reads the files again when they change, so a certificate renewed by
// certbot (or any tool that replaces the files) is used without a
// restart. A pair that fails to load is logged and the old one kept.
type Reloader struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
	mu                sync.Mutex // serialises reloads; guards stamp
	stamp             string     // modification times and sizes of the files loaded
}

// NewReloader loads the pair (as Load does) and returns a Reloader
// serving it.
func NewReloader(certFile, keyFile, hostname string, generate bool, owner Owner) (*Reloader, error) {
	cert, err := Load(certFile, keyFile, hostname, generate, owner)
	if err != nil {
		return nil, err
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, stamp: stampOf(certFile, keyFile)}
	r.cur.Store(&cert)
	return r, nil
}

// stampOf identifies the files' current contents by modification time
// and size ("" when one cannot be read).
func stampOf(files ...string) string {
	s := ""
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return ""
		}
		s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s
}

// GetCertificate is tls.Config.GetCertificate: the current pair.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// Certificate is the pair served now.
func (r *Reloader) Certificate() *tls.Certificate { return r.cur.Load() }

// Reload reads the files again when they changed since the last load, or
// always with force. It reports whether a new pair is now served.
func (r *Reloader) Reload(force bool) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp := stampOf(r.certFile, r.keyFile)
	if !force && stamp == r.stamp {
		return false, nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		// A renewal tool may be between writing the two files: the next
		// check tries again, since the stamp is not recorded.
		return false, fmt.Errorf("tlscert: reload %s and %s: %w", r.certFile, r.keyFile, err)
	}
	r.cur.Store(&cert)
	r.stamp = stamp
	return true, nil
}

// Watch checks the files every interval until ctx ends, reloading them
// when they changed.
func (r *Reloader) Watch(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.reloadAndLog(false, log)
		}
	}
}

// reloadAndLog reloads and logs the outcome.
func (r *Reloader) reloadAndLog(force bool, log *slog.Logger) {
	changed, err := r.Reload(force)
	switch {
	case err != nil:
		log.Warn("TLS certificate not reloaded; the old one stays in use", "err", err)
	case changed:
		log.Info("TLS certificate reloaded", "cert_file", r.certFile, "not_after", notAfter(r.Certificate()))
	}
}

// ReloadNow reloads the files at once (SIGHUP) and logs the outcome.
func (r *Reloader) ReloadNow(log *slog.Logger) { r.reloadAndLog(true, log) }

func notAfter(c *tls.Certificate) string {
	if c == nil || c.Leaf == nil {
		return ""
	}
	return c.Leaf.NotAfter.UTC().Format(time.RFC3339)
}
