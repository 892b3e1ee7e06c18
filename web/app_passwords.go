package web

import (
	"context"
	"net/http"
	"net/url"

	"mailhost/admin"
	"mailhost/auth"
)

// App passwords: an owner manages its own under /me/app-passwords, the
// admins of a domain its mailboxes' under /mailboxes/{address}/app-passwords.
// The service decides who may.

// appOps are the operations of one mailbox's app passwords, as the
// logged-in user reaches them.
type appOps struct {
	address, base, nav string
	list               func(context.Context) (admin.List[admin.AppPasswordView], error)
	create             func(context.Context, admin.AppPasswordInput) (admin.AppPasswordView, error)
	revoke             func(context.Context, string) error
}

func (h *Handler) appOps(r *http.Request) appOps {
	s := current(r)
	if s.Kind == "user" {
		o := s.Owner
		return appOps{address: o.Address, base: "/me/app-passwords", nav: "app-passwords",
			list: func(ctx context.Context) (admin.List[admin.AppPasswordView], error) {
				return h.svc.OwnAppPasswords(ctx, o)
			},
			create: func(ctx context.Context, in admin.AppPasswordInput) (admin.AppPasswordView, error) {
				return h.svc.CreateOwnAppPassword(ctx, o, in)
			},
			revoke: func(ctx context.Context, id string) error { return h.svc.RevokeOwnAppPassword(ctx, o, id) }}
	}
	a, addr := s.Actor, param(r, "address")
	return appOps{address: addr, base: "/mailboxes/" + url.PathEscape(addr) + "/app-passwords", nav: "domains",
		list: func(ctx context.Context) (admin.List[admin.AppPasswordView], error) {
			return h.svc.AppPasswords(ctx, a, addr)
		},
		create: func(ctx context.Context, in admin.AppPasswordInput) (admin.AppPasswordView, error) {
			return h.svc.CreateAppPassword(ctx, a, addr, in)
		},
		revoke: func(ctx context.Context, id string) error { return h.svc.RevokeAppPassword(ctx, a, addr, id) }}
}

// appPasswordsPage is the data of app_passwords.html.
type appPasswordsPage struct {
	Address, Base string
	Items         []admin.AppPasswordView
	New           *admin.AppPasswordView // just created: its secret, shown once
	Protocols     []string
}

func (h *Handler) appPasswordList(w http.ResponseWriter, r *http.Request) {
	h.renderAppPasswords(w, r, http.StatusOK, newForm(nil), nil)
}

func (h *Handler) renderAppPasswords(w http.ResponseWriter, r *http.Request, status int, f *form, created *admin.AppPasswordView) {
	ops := h.appOps(r)
	l, err := ops.list(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, status, "app_passwords.html", &view{Title: "App passwords of " + ops.address, Nav: ops.nav, Form: f,
		D: appPasswordsPage{Address: ops.address, Base: ops.base, Items: l.Items, New: created, Protocols: auth.AppProtocols}})
}

func (h *Handler) appPasswordCreate(w http.ResponseWriter, r *http.Request) {
	ops := h.appOps(r)
	f := newForm(r)
	p, err := ops.create(r.Context(), admin.AppPasswordInput{Name: f.str("name"), Protocols: f.Values["protocols"]})
	if f.fail(err) {
		h.renderAppPasswords(w, r, f.Status(), f, nil)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("app password created through the web panel", "mailbox", ops.address, "name", p.Name, "remote", remoteAddr(r))
	h.renderAppPasswords(w, r, http.StatusCreated, newForm(nil), &p)
}

func (h *Handler) appPasswordRevoke(w http.ResponseWriter, r *http.Request) {
	ops := h.appOps(r)
	if err := ops.revoke(r.Context(), param(r, "id")); err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("app password revoked through the web panel", "mailbox", ops.address, "remote", remoteAddr(r))
	redirect(w, r, ops.base+"?done=app-revoked")
}
