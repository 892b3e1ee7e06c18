package web

import (
	"net/http"
	"net/url"
	"strings"

	"mailhost/admin"
)

func relocatedPath(addr string) string { return "/relocated/" + url.PathEscape(addr) }

// relocatedListPage is the list with its filters.
type relocatedListPage struct {
	Items  []admin.RelocatedView
	Next   string
	Domain string // the domain filter, for the new entry link
}

// relocatedBack is the list an entry's pages lead back to.
func relocatedBack(r *http.Request, domain string) string {
	if domain != "" && !current(r).Can.Policy {
		return "/relocated?domain=" + url.QueryEscape(domain)
	}
	return "/relocated"
}

func (h *Handler) relocatedList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := newForm(nil)
	for _, k := range []string{"domain", "q"} {
		f.Values.Set(k, strings.TrimSpace(q.Get(k)))
	}
	l, err := h.svc.RelocatedList(r.Context(), current(r).Actor, admin.RelocatedParams{Domain: f.Get("domain"),
		ListParams: admin.ListParams{Q: f.Get("q"), Cursor: q.Get("cursor")}})
	if err != nil && !f.fail(err) {
		h.fail(w, r, err)
		return
	}
	next := ""
	if l.NextCursor != "" {
		v := url.Values{}
		for _, k := range []string{"domain", "q"} {
			if x := f.Get(k); x != "" {
				v.Set(k, x)
			}
		}
		v.Set("cursor", l.NextCursor)
		next = "/relocated?" + v.Encode()
	}
	status := http.StatusOK
	if f.Has() {
		status = f.Status()
	}
	h.render(w, r, status, "relocated.html", &view{Title: "Relocated addresses", Nav: accessNav(r, "relocated"), Form: f,
		D: relocatedListPage{Items: l.Items, Next: next, Domain: f.Get("domain")}})
}

// relocatedFormPage is the create or edit form.
type relocatedFormPage struct {
	Entry  *admin.RelocatedView // nil when creating
	Cancel string
}

func (h *Handler) relocatedNew(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil)
	d := r.URL.Query().Get("domain")
	if d != "" {
		f.Values.Set("address", "@"+d)
	}
	h.render(w, r, http.StatusOK, "relocated_form.html", &view{Title: "New relocated address", Nav: accessNav(r, "relocated"), Form: f,
		D: relocatedFormPage{Cancel: relocatedBack(r, d)}})
}

func (h *Handler) relocatedCreate(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	e, err := h.svc.CreateRelocated(r.Context(), current(r).Actor, admin.RelocatedInput{Address: f.str("address"), NewLocation: f.str("new_location")})
	if !f.fail(err) {
		if err != nil {
			h.fail(w, r, err)
			return
		}
		redirect(w, r, withDone(relocatedBack(r, e.Domain), "created"))
		return
	}
	h.render(w, r, f.Status(), "relocated_form.html", &view{Title: "New relocated address", Nav: accessNav(r, "relocated"), Form: f,
		D: relocatedFormPage{Cancel: "/relocated"}})
}

func (h *Handler) relocatedEdit(w http.ResponseWriter, r *http.Request) {
	e, err := h.svc.Relocated(r.Context(), current(r).Actor, param(r, "address"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(nil)
	f.Values.Set("new_location", e.NewLocation)
	h.render(w, r, http.StatusOK, "relocated_form.html", &view{Title: "Relocated " + e.Address, Nav: accessNav(r, "relocated"), Form: f,
		D: relocatedFormPage{Entry: &e, Cancel: relocatedBack(r, e.Domain)}})
}

func (h *Handler) relocatedUpdate(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), current(r).Actor
	e, err := h.svc.Relocated(ctx, a, param(r, "address"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(r)
	_, err = h.svc.UpdateRelocated(ctx, a, e.Address, admin.RelocatedInput{NewLocation: f.str("new_location")})
	if !f.fail(err) {
		if err != nil {
			h.fail(w, r, err)
			return
		}
		redirect(w, r, withDone(relocatedBack(r, e.Domain), "saved"))
		return
	}
	h.render(w, r, f.Status(), "relocated_form.html", &view{Title: "Relocated " + e.Address, Nav: accessNav(r, "relocated"), Form: f,
		D: relocatedFormPage{Entry: &e, Cancel: relocatedBack(r, e.Domain)}})
}

func (h *Handler) relocatedDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	e, err := h.svc.Relocated(r.Context(), current(r).Actor, param(r, "address"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	says := "Mail to " + e.Address + " is accepted again if the address exists here, instead of being refused with “User has moved to " +
		e.NewLocation + "”."
	if e.WholeDomain {
		says = "Mail to the addresses of " + e.Domain + " is accepted again where they exist, instead of being refused with “User has moved to " +
			e.NewLocation + "”."
	}
	h.render(w, r, http.StatusOK, "confirm.html", &view{Title: "Delete the relocated entry of " + e.Address, Nav: accessNav(r, "relocated"),
		Form: newForm(nil), D: confirmData{Action: relocatedPath(e.Address) + "/delete", What: e.Address, Button: "Delete entry",
			Cancel: relocatedPath(e.Address), Says: []string{says}}})
}

func (h *Handler) relocatedDelete(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), current(r).Actor
	e, err := h.svc.Relocated(ctx, a, param(r, "address"))
	if err == nil {
		err = h.svc.DeleteRelocated(ctx, a, e.Address)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, withDone(relocatedBack(r, e.Domain), "deleted"))
}
