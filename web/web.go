// Package web is the admin and user panel: server-rendered HTML pages over
// the admin service, sessions in PostgreSQL, CSRF protection by Go's
// http.CrossOriginProtection and SameSite cookies. It works without
// JavaScript. Every route is listed in routes.go.
package web

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"mailhost/admin"
	"mailhost/sasl"
	"mailhost/static"
	"mailhost/templates"
)

// Client is the mail client settings shown to users: the server's host
// name and the ports of the enabled listeners (0 = off).
type Client struct {
	Host                    string
	IMAP, IMAPS             int
	POP3, POP3S             int
	Submission, Submissions int
}

// Options configure the panel.
type Options struct {
	Admin *admin.Service // every operation, permission and web session
	// Logins checks mailbox owners' passwords through the Authenticator
	// the mail protocols share, so web logins share their throttling.
	Logins        sasl.Authenticator
	SessionIdle   time.Duration
	SessionMax    time.Duration
	Client        Client
	RetentionDays int    // shown on the mailbox delete confirmation
	SetupToken    string // the one-time first-run token; "" when there is none
	Log           *slog.Logger
	Now           func() time.Time // tests; time.Now by default
	// TrustedProxies are the reverse proxies whose X-Forwarded-Proto is
	// believed: "https" from one of them makes the cookies Secure.
	TrustedProxies []netip.Prefix
}

// Handler is the panel. Mount it at the root of the HTTP listener.
type Handler struct {
	opts   Options
	svc    *admin.Service
	log    *slog.Logger
	pages  map[string]*template.Template
	static *static.Files
	h      http.Handler

	setupMu   sync.Mutex
	setupUsed bool
}

// New parses the templates and builds the routes.
func New(opts Options) (*Handler, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = 30 * time.Minute
	}
	if opts.SessionMax <= 0 {
		opts.SessionMax = 12 * time.Hour
	}
	h := &Handler{opts: opts, svc: opts.Admin, log: opts.Log.With("component", "web"), static: static.New()}
	var err error
	if h.pages, err = templates.Parse(h.funcs()); err != nil {
		return nil, fmt.Errorf("web: parse templates: %w", err)
	}
	h.h = h.routes()
	return h, nil
}

// ServeHTTP answers a request. Mounted below another chi router, it
// routes on the full path with a routing context of its own.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if chi.RouteContext(r.Context()) != nil {
		r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, (*chi.Context)(nil)))
	}
	h.h.ServeHTTP(w, r)
}

// securityHeaders sets the headers every answer of the panel carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(r.URL.Path, static.Prefix) {
			hd.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func remoteIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func remoteAddr(r *http.Request) string {
	if a := remoteIP(r); a.IsValid() {
		return a.String()
	}
	return ""
}

func hashID(id string) []byte {
	s := sha256.Sum256([]byte(id))
	return s[:]
}

// fail answers an error of the admin service: validation errors are the
// form's business (see form.fail); here NotFound is 404, Forbidden 403,
// anything unexpected is logged and answered 500 without its text.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch admin.KindOf(err) {
	case admin.NotFound:
		h.errorPage(w, r, http.StatusNotFound, "Not found", "There is nothing here, or it is not yours to see.")
	case admin.Forbidden:
		h.errorPage(w, r, http.StatusForbidden, "Not allowed", err.Error())
	case admin.Conflict, admin.LimitReached:
		h.errorPage(w, r, http.StatusConflict, "Cannot do that", err.Error())
	case admin.Unauthorized:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case admin.Throttled:
		h.errorPage(w, r, http.StatusTooManyRequests, "Too many failed logins", err.Error())
	case admin.Unavailable:
		h.errorPage(w, r, http.StatusServiceUnavailable, "Busy", err.Error())
	default:
		if errors.Is(err, context.Canceled) {
			return
		}
		h.log.Error("web request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		h.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
			"The server could not do this; its log has the details. Try again later.")
	}
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, http.StatusNotFound, "Not found", "There is nothing here, or it is not yours to see.")
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	h.render(w, r, status, "error.html", &view{Title: title, D: detail})
}
