package web

import (
	"net/http"
	"net/url"
	"strconv"

	"mailhost/admin"
)

func (h *Handler) adminList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	l, err := h.svc.Admins(r.Context(), current(r).Actor, admin.ListParams{Q: q.Get("q"), Cursor: q.Get("cursor")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "admins.html", &view{Title: "Administrators", Nav: "admins",
		D: listData[admin.AdminView]{Q: q.Get("q"), Items: l.Items, Next: nextURL("/admins", q.Get("q"), l.NextCursor)}})
}

type adminForm struct {
	Admin *admin.AdminView
}

func (h *Handler) adminNew(w http.ResponseWriter, r *http.Request) {
	if err := current(r).Actor.MayManageAdmins(); err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(nil)
	f.Values.Set("active", "on")
	h.render(w, r, http.StatusOK, "admin_form.html", &view{Title: "New administrator", Nav: "admins", Form: f, D: adminForm{}})
}

func adminInput(f *form) admin.AdminInput {
	return admin.AdminInput{Superadmin: f.checkbox("superadmin"), Active: f.checkbox("active"), Domains: f.lines("domains"),
		Password: f.optionalSecret("password")}
}

func (h *Handler) adminCreate(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	in := adminInput(f)
	in.Username = f.str("username")
	_, err := h.svc.CreateAdmin(r.Context(), current(r).Actor, in)
	if !f.fail(err) {
		if err != nil {
			h.fail(w, r, err)
			return
		}
		redirect(w, r, "/admins?done=created")
		return
	}
	h.render(w, r, f.Status(), "admin_form.html", &view{Title: "New administrator", Nav: "admins", Form: f, D: adminForm{}})
}

func (h *Handler) adminEdit(w http.ResponseWriter, r *http.Request) {
	a := current(r).Actor
	ad, err := h.svc.Admin(r.Context(), a, param(r, "username"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(nil)
	f.Values.Set("domains", joinLines(ad.Domains))
	if ad.Superadmin {
		f.Values.Set("superadmin", "on")
	}
	if ad.Active {
		f.Values.Set("active", "on")
	}
	h.render(w, r, http.StatusOK, "admin_form.html", &view{Title: "Administrator " + ad.Username, Nav: "admins", Form: f, D: adminForm{Admin: &ad}})
}

func (h *Handler) adminUpdate(w http.ResponseWriter, r *http.Request) {
	a := current(r).Actor
	ad, err := h.svc.Admin(r.Context(), a, param(r, "username"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(r)
	_, err = h.svc.UpdateAdmin(r.Context(), a, ad.Username, adminInput(f))
	if !f.fail(err) {
		if err != nil {
			h.fail(w, r, err)
			return
		}
		redirect(w, r, "/admins?done=saved")
		return
	}
	h.render(w, r, f.Status(), "admin_form.html", &view{Title: "Administrator " + ad.Username, Nav: "admins", Form: f, D: adminForm{Admin: &ad}})
}

func adminConfirm(ad admin.AdminView) confirmData {
	return confirmData{Action: "/admins/" + url.PathEscape(ad.Username) + "/delete", What: ad.Username, Button: "Delete administrator",
		Cancel: "/admins", Says: []string{"The administrator " + ad.Username + " will be deleted, its sessions ended and its API tokens removed."}}
}

func (h *Handler) adminDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	a := current(r).Actor
	ad, err := h.svc.Admin(r.Context(), a, param(r, "username"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm.html", &view{Title: "Delete administrator " + ad.Username, Nav: "admins", Form: newForm(nil), D: adminConfirm(ad)})
}

func (h *Handler) adminDelete(w http.ResponseWriter, r *http.Request) {
	a := current(r).Actor
	ad, err := h.svc.Admin(r.Context(), a, param(r, "username"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(r)
	err = h.svc.DeleteAdmin(r.Context(), a, ad.Username)
	if f.fail(err) {
		h.render(w, r, f.Status(), "confirm.html", &view{Title: "Delete administrator " + ad.Username, Nav: "admins", Form: f, D: adminConfirm(ad)})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/admins?done=deleted")
}

type tokenPage struct {
	Items []admin.TokenView
	Next  string
	New   *admin.TokenView // just created: its secret is shown this once
}

func (h *Handler) tokenList(w http.ResponseWriter, r *http.Request) {
	a := current(r).Actor
	l, err := h.svc.Tokens(r.Context(), a, admin.ListParams{Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "tokens.html", &view{Title: "API tokens", Nav: "tokens",
		D: tokenPage{Items: l.Items, Next: nextURL("/tokens", "", l.NextCursor)}})
}

func (h *Handler) tokenNew(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil)
	f.Values.Set("admin", current(r).Actor.Username)
	h.render(w, r, http.StatusOK, "token_form.html", &view{Title: "New API token", Nav: "tokens", Form: f, D: tokenPage{}})
}

func (h *Handler) tokenCreate(w http.ResponseWriter, r *http.Request) {
	a := current(r).Actor
	f := newForm(r)
	t, err := h.svc.CreateToken(r.Context(), a, admin.TokenInput{Name: f.str("name"), Admin: f.str("admin")})
	if !f.fail(err) {
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.render(w, r, http.StatusCreated, "token_form.html", &view{Title: "API token created", Nav: "tokens", Form: newForm(nil), D: tokenPage{New: &t}})
		return
	}
	h.render(w, r, f.Status(), "token_form.html", &view{Title: "New API token", Nav: "tokens", Form: f, D: tokenPage{}})
}

func (h *Handler) tokenByID(r *http.Request) (admin.TokenView, error) {
	id := param(r, "id")
	want, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return admin.TokenView{}, admin.ErrNotFound
	}
	p := admin.ListParams{Limit: admin.MaxLimit}
	for {
		l, err := h.svc.Tokens(r.Context(), current(r).Actor, p)
		if err != nil {
			return admin.TokenView{}, err
		}
		for _, t := range l.Items {
			if t.ID == want {
				return t, nil
			}
		}
		if l.NextCursor == "" {
			return admin.TokenView{}, &admin.Error{Kind: admin.NotFound, Detail: "no token " + id}
		}
		p.Cursor = l.NextCursor
	}
}

func (h *Handler) tokenRevokeConfirm(w http.ResponseWriter, r *http.Request) {
	t, err := h.tokenByID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm.html", &view{Title: "Revoke API token " + t.Name, Nav: "tokens", Form: newForm(nil),
		D: confirmData{Action: "/tokens/" + strconv.FormatInt(t.ID, 10) + "/revoke", What: t.Name + " (" + t.Prefix + "…)",
			Button: "Revoke token", Cancel: "/tokens",
			Says: []string{"Programs using the token " + t.Prefix + "… of " + t.Admin + " will get 401 Unauthorized from now on. This cannot be undone."}}})
}

func (h *Handler) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.RevokeToken(r.Context(), current(r).Actor, param(r, "id")); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/tokens?done=revoked")
}

// An admin changes its own password, giving the current one.
func (h *Handler) adminPasswordPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "password.html", &view{Title: "Change your password", Nav: "account", Form: newForm(nil), D: "/account/password"})
}

func (h *Handler) adminPassword(w http.ResponseWriter, r *http.Request) {
	a := current(r).Actor
	f := newForm(r)
	cur, pw := f.secret("current_password"), f.secret("password")
	// AdminLogin counts a wrong current password in the shared throttle.
	if _, err := h.svc.AdminLogin(r.Context(), a.Username, cur, a.Remote); err != nil {
		switch admin.KindOf(err) {
		case admin.Throttled, admin.Unavailable:
			f.Error = "Too many wrong passwords, or the server is busy. Try again later."
			h.render(w, r, http.StatusTooManyRequests, "password.html", &view{Title: "Change your password", Nav: "account", Form: f, D: "/account/password"})
			return
		case admin.Unauthorized:
		default:
			h.fail(w, r, err)
			return
		}
		f.Errors["current_password"] = "is not your current password"
		h.render(w, r, f.Status(), "password.html", &view{Title: "Change your password", Nav: "account", Form: f, D: "/account/password"})
		return
	}
	_, err := h.svc.UpdateAdmin(r.Context(), a, a.Username, admin.AdminInput{Password: &pw})
	if f.fail(err) {
		h.render(w, r, f.Status(), "password.html", &view{Title: "Change your password", Nav: "account", Form: f, D: "/account/password"})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The new password ended every session of the admin; this one goes on.
	if err := h.startSession(w, r, "admin", a.AdminID, 0); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/?done=passwd")
}
