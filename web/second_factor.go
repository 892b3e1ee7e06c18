package web

import (
	"context"
	"crypto/rand"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mailhost/admin"
)

// The panel's second factor: the login's second step (a login challenge
// between password and code, in the database and a cookie of its own),
// the enrolment and disable pages of admins (/account/totp) and owners
// (/me/totp), the resets and the policy. Every decision is the admin
// service's.

// challengeTTL is how long the second step waits for its code.
const challengeTTL = 5 * time.Minute

// Cookie names of a login's second step (see cookieTLS).
const (
	challengeCookieTLS   = "__Host-mailhost-2fa"
	challengeCookiePlain = "mailhost_2fa"
)

func challengeCookie(r *http.Request) string {
	if secure(r) {
		return challengeCookieTLS
	}
	return challengeCookiePlain
}

func (h *Handler) setChallengeCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: challengeCookie(r), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
}

// passwordPassed goes on with a login whose password was right: to the
// second step when the account has a second factor, else into a session
// (and, for an admin the policy requires one of, to its enrolment).
func (h *Handler) passwordPassed(w http.ResponseWriter, r *http.Request, kind string, acct admin.Account, next string) {
	sf, err := h.svc.SecondFactor(r.Context(), acct)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !sf.Enabled {
		h.sessionFor(w, r, kind, acct, next)
		return
	}
	id := rand.Text() + rand.Text()
	now := h.opts.Now()
	c := admin.LoginChallenge{IDHash: hashID(id), Account: acct, Next: next, RemoteAddr: remoteAddr(r),
		CreatedAt: now, ExpiresAt: now.Add(challengeTTL)}
	if err := h.svc.CreateLoginChallenge(r.Context(), c); err != nil {
		h.fail(w, r, err)
		return
	}
	h.setChallengeCookie(w, r, id, int(challengeTTL.Seconds()))
	redirect(w, r, "/login/code")
}

// sessionFor starts the session of a login that passed and sends it on.
func (h *Handler) sessionFor(w http.ResponseWriter, r *http.Request, kind string, acct admin.Account, next string) {
	if err := h.startSession(w, r, kind, acct.AdminID, acct.MailboxID); err != nil {
		h.fail(w, r, err)
		return
	}
	if kind == "admin" {
		due, err := h.svc.SecondFactorDue(r.Context(), admin.Actor{Kind: "admin", AdminID: acct.AdminID})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if due {
			next = "/account/totp"
		}
	}
	redirect(w, r, next)
}

// challenge returns the request's pending login, or NotFound.
func (h *Handler) challenge(r *http.Request) (admin.LoginChallenge, error) {
	c, err := r.Cookie(challengeCookie(r))
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return admin.LoginChallenge{}, admin.ErrNotFound
	}
	return h.svc.LoginChallengeByHash(r.Context(), hashID(c.Value), h.opts.Now())
}

func (h *Handler) loginCodePage(w http.ResponseWriter, r *http.Request) {
	if _, err := h.challenge(r); err != nil {
		if admin.KindOf(err) != admin.NotFound {
			h.fail(w, r, err)
			return
		}
		redirect(w, r, "/login")
		return
	}
	h.render(w, r, http.StatusOK, "login_code.html", &view{Title: "Second factor", Form: newForm(nil)})
}

// loginCode checks the second step: a code of the authenticator app or a
// recovery code. Failures are throttled per client address and account
// as passwords are.
func (h *Handler) loginCode(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	again := func(status int, msg string) {
		f.Error = msg
		h.render(w, r, status, "login_code.html", &view{Title: "Second factor", Form: f})
	}
	c, err := h.challenge(r)
	if admin.KindOf(err) == admin.NotFound {
		redirect(w, r, "/login")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	code := f.secret("code")
	if code == "" {
		f.Errors["code"] = "Enter the code your app shows, or a recovery code."
		again(http.StatusUnprocessableEntity, "")
		return
	}
	err = h.svc.CheckSecondFactor(r.Context(), c.Account, code, remoteAddr(r))
	switch admin.KindOf(err) {
	case admin.Unauthorized:
		h.log.Info("web login: wrong second factor", "admin_id", c.Account.AdminID, "mailbox_id", c.Account.MailboxID, "remote", remoteAddr(r))
		again(http.StatusUnauthorized, "Wrong code, or a code used already.")
		return
	case admin.Throttled:
		again(http.StatusTooManyRequests, "Too many wrong codes. "+capitalFirst(tryAgain(err)))
		return
	case admin.Unavailable:
		again(http.StatusServiceUnavailable, "The server is busy. Try again in a moment.")
		return
	}
	if err == nil {
		err = h.svc.FinishLoginChallenge(r.Context(), c.IDHash)
	}
	if admin.KindOf(err) == admin.NotFound {
		redirect(w, r, "/login")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.setChallengeCookie(w, r, "", -1)
	kind := "user"
	if c.Account.AdminID != 0 {
		kind = "admin"
	}
	h.log.Info("web login: second factor passed", "kind", kind, "remote", remoteAddr(r))
	h.sessionFor(w, r, kind, c.Account, c.Next)
}

// selfTOTP is the logged-in account's own second factor pages.
type selfTOTP struct {
	acct admin.Account
	kind string // "admin" or "user"
	base string // "/account/totp" or "/me/totp"
	nav  string
}

func self(r *http.Request) selfTOTP {
	s := current(r)
	if s.Kind == "user" {
		return selfTOTP{acct: s.Owner.Account(), kind: "user", base: "/me/totp", nav: "totp"}
	}
	return selfTOTP{acct: s.Actor.Account(), kind: "admin", base: "/account/totp", nav: "account-totp"}
}

// totpPage is the data of totp.html.
type totpPage struct {
	Base  string
	State admin.SecondFactorView
	Enrol *admin.TOTPEnrolment // while not enabled
	QR    template.URL         // its QR code, a data: URI rendered by the service
	Codes []string             // the recovery codes, right after enrolment
	Due   bool                 // the policy requires one before anything else
	// NewCodes shows the form that replaces the recovery codes.
	NewCodes bool
}

func (h *Handler) totpPage(w http.ResponseWriter, r *http.Request) {
	h.renderTOTP(w, r, http.StatusOK, newForm(nil))
}

// renderTOTP shows the state of the account's second factor, or its
// enrolment (the QR code and the secret) while it is off.
func (h *Handler) renderTOTP(w http.ResponseWriter, r *http.Request, status int, f *form) {
	me := self(r)
	st, err := h.svc.SecondFactor(r.Context(), me.acct)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := totpPage{Base: me.base, State: st}
	if !st.Enabled {
		e, err := h.svc.BeginTOTP(r.Context(), me.acct)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.Enrol = &e
		if strings.HasPrefix(e.QRPNG, "data:image/png;base64,") {
			d.QR = template.URL(e.QRPNG) //nolint:gosec // made by the service from its own PNG, not from input
		}
		if me.kind == "admin" {
			d.Due, _ = h.svc.SecondFactorDue(r.Context(), current(r).Actor)
		}
	}
	h.render(w, r, status, "totp.html", &view{Title: "Second factor", Nav: me.nav, Form: f, D: d})
}

// totpConfirm takes the first code of an enrolment. The enrolment ends
// every session of the account; this request gets a new one.
func (h *Handler) totpConfirm(w http.ResponseWriter, r *http.Request) {
	me := self(r)
	f := newForm(r)
	codes, err := h.svc.ConfirmTOTP(r.Context(), me.acct, f.secret("code"))
	if f.fail(err) {
		h.renderTOTP(w, r, f.Status(), f)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("second factor enabled through the web panel", "kind", me.kind, "remote", remoteAddr(r))
	h.showCodes(w, r, me, "Second factor on", codes)
}

// showCodes starts the request's new session (the change ended the
// account's sessions) and shows the recovery codes, this once.
func (h *Handler) showCodes(w http.ResponseWriter, r *http.Request, me selfTOTP, title string, codes []string) {
	if err := h.startSession(w, r, me.kind, me.acct.AdminID, me.acct.MailboxID); err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "totp.html", &view{Title: title, Nav: me.nav, Form: newForm(nil),
		D: totpPage{Base: me.base, State: admin.SecondFactorView{Enabled: true, RecoveryCodesLeft: len(codes)}, Codes: codes}})
}

// newCodesPage asks the password and a code for new recovery codes.
func (h *Handler) newCodesPage(w http.ResponseWriter, r *http.Request) {
	h.renderNewCodes(w, r, http.StatusOK, newForm(nil))
}

func (h *Handler) renderNewCodes(w http.ResponseWriter, r *http.Request, status int, f *form) {
	me := self(r)
	h.render(w, r, status, "totp.html", &view{Title: "New recovery codes", Nav: me.nav, Form: f,
		D: totpPage{Base: me.base, NewCodes: true}})
}

// totpRecoveryCodes replaces the recovery codes with new ones, given the
// password and a code, and shows them once.
func (h *Handler) totpRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	me := self(r)
	f := newForm(r)
	codes, err := h.svc.RegenerateRecoveryCodes(r.Context(), me.acct, f.secret("current_password"), f.secret("code"), remoteAddr(r))
	if h.proofRefused(w, r, f, err, h.renderNewCodes) {
		return
	}
	h.log.Info("new recovery codes through the web panel", "kind", me.kind, "remote", remoteAddr(r))
	h.showCodes(w, r, me, "New recovery codes", codes)
}

// proofRefused answers a change that needed the password and a code when
// the service refused it: too many wrong tries, wrong fields (the form
// again through again, with the errors), or a failure. It reports
// whether it answered.
func (h *Handler) proofRefused(w http.ResponseWriter, r *http.Request, f *form, err error,
	again func(http.ResponseWriter, *http.Request, int, *form)) bool {
	switch {
	case err == nil:
		return false
	case admin.KindOf(err) == admin.Throttled:
		f.Error = "Too many wrong passwords or codes. Try again later."
		again(w, r, http.StatusTooManyRequests, f)
	case f.fail(err):
		again(w, r, f.Status(), f)
	default:
		h.fail(w, r, err)
	}
	return true
}

// totpDisable turns the second factor off with the password and a code;
// wrong ones count as failed logins.
func (h *Handler) totpDisable(w http.ResponseWriter, r *http.Request) {
	me := self(r)
	f := newForm(r)
	err := h.svc.DisableTOTP(r.Context(), me.acct, f.secret("current_password"), f.secret("code"), remoteAddr(r))
	if h.proofRefused(w, r, f, err, h.renderTOTP) {
		return
	}
	if err := h.startSession(w, r, me.kind, me.acct.AdminID, me.acct.MailboxID); err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("second factor disabled through the web panel", "kind", me.kind, "remote", remoteAddr(r))
	redirect(w, r, me.base+"?done=totp-off")
}

// secondFactorDue sends an admin the policy requires a second factor of,
// and who has none, to its enrolment before any other admin page.
func (h *Handler) secondFactorDue(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := current(r)
		if s.Admin() {
			due, err := h.svc.SecondFactorDue(r.Context(), s.Actor)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			if due {
				redirect(w, r, "/account/totp")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// totpOf is whose second factor a reset page shows: an admin's (to
// super-admins) or a mailbox owner's (to the admins of its domain). The
// admin service decides who may see and reset it.
type totpOf struct {
	param  string // the route parameter naming the account
	prefix string // "/admins/" or "/mailboxes/"
	nav    string
	what   string // for the log
	view   func(context.Context, admin.Actor, string) (admin.SecondFactorView, error)
	reset  func(context.Context, admin.Actor, string) error
}

func (h *Handler) adminTOTP() totpOf {
	return totpOf{param: "username", prefix: "/admins/", nav: "admins", what: "admin",
		view: h.svc.AdminSecondFactor, reset: h.svc.ResetAdminTOTP}
}

func (h *Handler) mailboxTOTP() totpOf {
	return totpOf{param: "address", prefix: "/mailboxes/", nav: "domains", what: "mailbox",
		view: h.svc.MailboxSecondFactor, reset: h.svc.ResetMailboxTOTP}
}

// totpResetPage shows an account's second factor with the reset button.
func (h *Handler) totpResetPage(of totpOf) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := param(r, of.param)
		st, err := of.view(r.Context(), current(r).Actor, name)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		base := of.prefix + url.PathEscape(name)
		h.render(w, r, http.StatusOK, "totp_reset.html", &view{Title: "Second factor of " + name, Nav: of.nav,
			D: resetPage{Name: name, Action: base + "/totp/reset", Back: base, State: st}})
	}
}

// totpReset removes an account's second factor.
func (h *Handler) totpReset(of totpOf) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := param(r, of.param)
		if err := of.reset(r.Context(), current(r).Actor, name); err != nil {
			h.fail(w, r, err)
			return
		}
		h.log.Info("second factor reset", of.what, name, "by", current(r).Actor.Username, "remote", remoteAddr(r))
		redirect(w, r, of.prefix+url.PathEscape(name)+"/totp?done=totp-reset")
	}
}

// resetPage is the data of totp_reset.html.
type resetPage struct {
	Name, Action, Back string
	State              admin.SecondFactorView
}

// securityPage shows the security policy (super-admins; 403 for others).
func (h *Handler) securityPage(w http.ResponseWriter, r *http.Request) {
	p, err := h.svc.SecurityPolicy(r.Context(), current(r).Actor)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(nil)
	if p.RequireAdminTOTP {
		f.Values.Set("require_admin_totp", "on")
	}
	h.render(w, r, http.StatusOK, "security.html", &view{Title: "Security policy", Nav: "security", Form: f})
}

func (h *Handler) securitySet(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	on := f.Get("require_admin_totp") == "on" || f.Get("require_admin_totp") == "true"
	_, err := h.svc.SetSecurityPolicy(r.Context(), current(r).Actor, admin.SecurityPolicyInput{RequireAdminTOTP: &on})
	if f.fail(err) {
		h.render(w, r, f.Status(), "security.html", &view{Title: "Security policy", Nav: "security", Form: f})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/security?done=saved")
}
