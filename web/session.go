package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"mailhost/admin"
	"mailhost/auth"
)

// Cookie names: with the __Host- prefix over TLS (the browser then insists
// on Secure, Path=/ and no Domain); a plain name over plain HTTP, where a
// Secure cookie would never come back (the embedded default on loopback).
const (
	cookieTLS   = "__Host-mailhost"
	cookiePlain = "mailhost_session"
)

// sess is the logged-in user of a request.
type sess struct {
	Kind  string // "admin" or "user"
	Actor admin.Actor
	Can   admin.Rights // what the service lets the admin do, to offer only that
	Owner admin.Owner
	hash  []byte
}

// Admin reports whether the user is an admin (super or domain admin).
func (s *sess) Admin() bool { return s != nil && s.Kind == "admin" }

// Name is who is logged in, for the header.
func (s *sess) Name() string {
	if s.Kind == "admin" {
		return s.Actor.Username
	}
	return s.Owner.Address
}

type ctxKey struct{}

func current(r *http.Request) *sess {
	s, _ := r.Context().Value(ctxKey{}).(*sess)
	return s
}

func cookieName(r *http.Request) string {
	if secure(r) {
		return cookieTLS
	}
	return cookiePlain
}

// loadSession puts the request's valid session, if any, in its context.
func (h *Handler) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName(r))
		if err != nil || c.Value == "" || len(c.Value) > 100 {
			next.ServeHTTP(w, r)
			return
		}
		hash := hashID(c.Value)
		ws, err := h.svc.TouchWebSession(r.Context(), hash, h.opts.Now(), h.opts.SessionIdle)
		if admin.KindOf(err) == admin.NotFound {
			h.clearCookie(w, r)
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		s := &sess{Kind: ws.Kind, hash: hash}
		switch {
		case ws.Kind == "admin" && ws.AdminID != 0:
			s.Actor, err = h.svc.AdminActor(r.Context(), ws.AdminID, remoteAddr(r))
			s.Can = s.Actor.Rights()
		case ws.Kind == "user" && ws.MailboxID != 0:
			s.Owner, err = h.svc.OwnerOf(r.Context(), ws.MailboxID, remoteAddr(r))
		default:
			err = &admin.Error{Kind: admin.Unauthorized}
		}
		if admin.KindOf(err) == admin.Unauthorized {
			// Deactivated since the login: the session ends.
			_ = h.svc.DeleteWebSession(r.Context(), hash)
			h.clearCookie(w, r)
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	})
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(r), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure(r),
		// Strict: the session never rides along a request from another
		// site, not even a top-level link. The login redirect is
		// same-site, so it keeps working.
		SameSite: http.SameSiteStrictMode,
	})
}

func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request) { h.setCookie(w, r, "", -1) }

// startSession stores a new session for an admin or a mailbox and sets its
// cookie.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, kind string, adminID, mailboxID int64) error {
	if old := current(r); old != nil { // a new login replaces the session it was made in
		if err := h.svc.DeleteWebSession(r.Context(), old.hash); err != nil {
			return err
		}
	}
	now := h.opts.Now()
	if _, err := h.svc.DeleteExpiredWebSessions(r.Context(), now, h.opts.SessionIdle); err != nil {
		h.log.Warn("sweep expired web sessions", "err", err)
	}
	id := rand.Text() + rand.Text() // 2 x 128 bits
	ws := admin.WebSession{IDHash: hashID(id), Kind: kind, AdminID: adminID, MailboxID: mailboxID,
		RemoteAddr: remoteAddr(r), CreatedAt: now, ExpiresAt: now.Add(h.opts.SessionMax)}
	if err := h.svc.CreateWebSession(r.Context(), ws); err != nil {
		return err
	}
	h.setCookie(w, r, id, int(h.opts.SessionMax.Seconds()))
	return nil
}

// requireAdmin lets admins through; anonymous users go to the login page,
// mailbox owners get 404 (the page does not exist for them).
func (h *Handler) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := current(r)
		switch {
		case s == nil:
			h.toLogin(w, r)
		case !s.Admin():
			h.notFound(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// requireOwner lets mailbox owners through; admins get 404.
func (h *Handler) requireOwner(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := current(r)
		switch {
		case s == nil:
			h.toLogin(w, r)
		case s.Kind != "user":
			h.notFound(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func (h *Handler) toLogin(w http.ResponseWriter, r *http.Request) {
	target := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath reports whether next is a path on this site: one leading
// slash, not "//" or "/\" (which browsers take for another host), no
// scheme, host or control characters.
func localPath(next string) bool {
	if next == "" || next[0] != '/' || len(next) > 2000 {
		return false
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return false
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(next)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}

type loginData struct {
	Next string
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if !localPath(next) {
		next = ""
	}
	if s := current(r); s != nil {
		http.Redirect(w, r, or(next, "/"), http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login.html", &view{Title: "Log in", Form: newForm(nil), D: loginData{Next: next}})
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// login checks an admin's user name and password, then (for an address)
// a mailbox owner's, through the Authenticator that the mail protocols
// share. Failures are throttled per client address and per name.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	next := f.Get("next")
	if !localPath(next) {
		next = "/"
	}
	name := strings.TrimSpace(f.Get("username"))
	pw := f.secret("password")
	again := func(status int, msg string) {
		f.Error = msg
		h.render(w, r, status, "login.html", &view{Title: "Log in", Form: f, D: loginData{Next: f.Get("next")}})
	}
	if name == "" || pw == "" {
		f.Errors["username"] = "Enter your user name or mail address, and your password."
		again(http.StatusUnprocessableEntity, "")
		return
	}
	// One policy for every login: the admin service and the mail
	// protocols' Authenticator reserve a place in the shared throttle
	// before checking, and wait out the failure delay themselves.
	actor, err := h.svc.AdminLogin(r.Context(), name, pw, remoteAddr(r))
	switch admin.KindOf(err) {
	case 0:
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.log.Info("web login", "kind", "admin", "user", actor.Username, "remote", remoteAddr(r))
		h.passwordPassed(w, r, "admin", actor.Account(), next) // second_factor.go
		return
	case admin.Throttled:
		again(http.StatusTooManyRequests, "Too many failed logins. "+capitalFirst(tryAgain(err)))
		return
	case admin.Unavailable:
		again(http.StatusServiceUnavailable, "The server is busy. Try again in a moment.")
		return
	case admin.Unauthorized:
	default:
		h.fail(w, r, err)
		return
	}
	if strings.Contains(name, "@") {
		acct, err := h.opts.Logins.Login(r.Context(), auth.LoginRequest{Username: name, Password: pw, RemoteIP: remoteIP(r), Protocol: auth.ProtoWeb})
		var te *auth.ThrottledError
		switch {
		case err == nil:
			h.log.Info("web login", "kind", "user", "user", acct.Address, "remote", remoteAddr(r))
			if next == "/" || !strings.HasPrefix(next, "/me") {
				next = "/me"
			}
			h.passwordPassed(w, r, "user", admin.Account{MailboxID: acct.MailboxID}, next)
			return
		case errors.As(err, &te):
			again(http.StatusTooManyRequests, tooMany(te))
			return
		case errors.Is(err, auth.ErrBusy):
			again(http.StatusServiceUnavailable, "The server is busy. Try again in a moment.")
			return
		case errors.Is(err, auth.ErrInvalidCredentials):
		default:
			h.fail(w, r, err)
			return
		}
	}
	h.log.Info("web login failed", "user", name, "remote", remoteAddr(r))
	again(http.StatusUnauthorized, "Wrong user name or password.")
}

// tryAgain is the "try again in N minutes" of a Throttled error.
func tryAgain(err error) string {
	m := err.Error()
	if i := strings.Index(m, "try again"); i >= 0 {
		return m[i:] + "."
	}
	return "try again later."
}

func capitalFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func tooMany(te *auth.ThrottledError) string {
	m := int(te.RetryAfter.Minutes()) + 1
	return "Too many failed logins. Try again in " + itoa(m) + " minutes."
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if s := current(r); s != nil {
		if err := h.svc.DeleteWebSession(r.Context(), s.hash); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	h.clearCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// setupOpen reports whether the first-run page may be used with token.
func (h *Handler) setupOpen(r *http.Request, token string) (ok bool, gone bool, err error) {
	h.setupMu.Lock()
	used := h.setupUsed
	h.setupMu.Unlock()
	if h.opts.SetupToken == "" {
		return false, false, nil
	}
	if used {
		return false, true, nil
	}
	has, err := h.svc.HasAdmins(r.Context())
	if err != nil || has {
		return false, has, err
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(h.opts.SetupToken)) == 1, false, nil
}

func (h *Handler) setupGate(w http.ResponseWriter, r *http.Request, token string) bool {
	ok, gone, err := h.setupOpen(r, token)
	switch {
	case err != nil:
		h.fail(w, r, err)
	case gone:
		h.errorPage(w, r, http.StatusGone, "Setup is done", "The first administrator exists; log in instead.")
	case !ok:
		h.notFound(w, r)
	}
	return err == nil && ok
}

func (h *Handler) setupPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if !h.setupGate(w, r, tok) {
		return
	}
	f := newForm(nil)
	f.Values.Set("token", tok)
	h.render(w, r, http.StatusOK, "setup.html", &view{Title: "Create the first administrator", Form: f})
}

func (h *Handler) setup(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	if !h.setupGate(w, r, f.Get("token")) {
		return
	}
	pw := f.secret("password")
	if pw != f.secret("password_confirm") {
		f.Errors["password_confirm"] = "does not match the password"
		h.render(w, r, f.Status(), "setup.html", &view{Title: "Create the first administrator", Form: f})
		return
	}
	h.setupMu.Lock()
	defer h.setupMu.Unlock()
	if h.setupUsed {
		h.errorPage(w, r, http.StatusGone, "Setup is done", "The first administrator exists; log in instead.")
		return
	}
	av, err := h.svc.CreateFirstAdmin(r.Context(), f.Get("username"), pw, remoteAddr(r))
	if f.fail(err) {
		h.render(w, r, f.Status(), "setup.html", &view{Title: "Create the first administrator", Form: f})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.setupUsed = true
	h.log.Info("first super-admin created through the setup page", "admin", av.Username, "remote", remoteAddr(r))
	actor, err := h.svc.AdminLogin(r.Context(), av.Username, pw, remoteAddr(r))
	if err == nil {
		err = h.startSession(w, r, "admin", actor.AdminID, 0)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
