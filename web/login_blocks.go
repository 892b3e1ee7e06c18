package web

import (
	"net/http"

	"mailhost/admin"
)

// The login throttle's blocks (mailhost auth blocks / unblock): client
// addresses and accounts blocked after too many failed logins. The admin
// service lets only super-admins see or lift them; its refusal is
// answered 404 here, as for the queue.

type loginBlocksPage struct {
	Items []admin.LoginBlockView
}

func (h *Handler) loginBlocks(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.LoginBlocks(r.Context(), current(r).Actor)
	if err != nil {
		h.queueFail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "login_blocks.html", &view{Title: "Login blocks", Nav: "blocks",
		Form: newForm(nil), D: loginBlocksPage{Items: list}})
}

func (h *Handler) unblock(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	a := current(r).Actor
	_, err := h.svc.Unblock(r.Context(), a, admin.UnblockInput{Target: f.Get("target")})
	if err == nil {
		h.log.Info("login block lifted through the web panel", "target", f.Get("target"), "admin", a.Username)
		redirect(w, r, "/auth/blocks?done=unblocked")
		return
	}
	if admin.KindOf(err) == admin.Forbidden {
		h.notFound(w, r)
		return
	}
	if f.fail(err) || admin.KindOf(err) == admin.NotFound {
		if admin.KindOf(err) == admin.NotFound {
			f.Errors["target"] = err.Error()
			f.status = http.StatusNotFound
		}
		list, lerr := h.svc.LoginBlocks(r.Context(), a)
		if lerr != nil {
			h.fail(w, r, lerr)
			return
		}
		h.render(w, r, f.Status(), "login_blocks.html", &view{Title: "Login blocks", Nav: "blocks", Form: f, D: loginBlocksPage{Items: list}})
		return
	}
	h.fail(w, r, err)
}
