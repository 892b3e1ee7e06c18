package web

import (
	"net/http"

	"mailhost/admin"
)

type ownerPage struct {
	Mailbox admin.MailboxView
	Client  Client
}

func (h *Handler) ownerHome(w http.ResponseWriter, r *http.Request) {
	m, err := h.svc.OwnMailbox(r.Context(), current(r).Owner)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "me.html", &view{Title: "Your mailbox " + m.Address, Nav: "me", D: ownerPage{Mailbox: m, Client: h.opts.Client}})
}

func (h *Handler) ownerPasswordPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "password.html", &view{Title: "Change your password", Nav: "password", Form: newForm(nil), D: "/me/password"})
}

// ownerPassword changes a mailbox owner's password; a wrong current
// password counts as a failed login of the account.
func (h *Handler) ownerPassword(w http.ResponseWriter, r *http.Request) {
	o := current(r).Owner
	f := newForm(r)
	cur, pw := f.secret("current_password"), f.secret("password")
	if cur != "" {
		// The service checks the current password in the login throttle.
		err := h.svc.ChangeOwnPassword(r.Context(), o, cur, pw)
		if k := admin.KindOf(err); k == admin.Throttled || k == admin.Unavailable {
			f.Error = "Too many wrong passwords, or the server is busy. Try again later."
			h.render(w, r, http.StatusTooManyRequests, "password.html", &view{Title: "Change your password", Nav: "password", Form: f, D: "/me/password"})
			return
		}
		if f.fail(err) {
			h.render(w, r, f.Status(), "password.html", &view{Title: "Change your password", Nav: "password", Form: f, D: "/me/password"})
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.log.Info("mailbox password changed through the web panel", "user", o.Address, "remote", remoteAddr(r))
		// The new password ended every session of the owner; this one goes on.
		if err := h.startSession(w, r, "user", 0, o.MailboxID); err != nil {
			h.fail(w, r, err)
			return
		}
		redirect(w, r, "/me?done=passwd")
		return
	}
	f.Errors["current_password"] = "is required"
	h.render(w, r, f.Status(), "password.html", &view{Title: "Change your password", Nav: "password", Form: f, D: "/me/password"})
}
