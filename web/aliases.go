package web

import (
	"net/http"
	"net/url"
	"strings"

	"mailhost/admin"
)

func aliasPath(addr string) string { return "/aliases/" + url.PathEscape(addr) }

func (h *Handler) aliasAndDomain(w http.ResponseWriter, r *http.Request) (admin.AliasView, admin.DomainView, bool) {
	return withDomain(h, w, r, h.svc.Alias, func(al admin.AliasView) string { return al.Domain })
}

func (h *Handler) aliasList(w http.ResponseWriter, r *http.Request) {
	domainList(h, w, r, "aliases", "Aliases of ", h.svc.Aliases)
}

type aliasForm struct {
	Domain admin.DomainView
	Alias  *admin.AliasView
}

func (h *Handler) aliasNew(w http.ResponseWriter, r *http.Request) {
	d, err := h.svc.Domain(r.Context(), current(r).Actor, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(nil)
	f.Values.Set("active", "on")
	h.render(w, r, http.StatusOK, "alias_form.html", &view{Title: "New alias in " + d.UnicodeName, Nav: "domains", Form: f, D: aliasForm{Domain: d}})
}

// aliasAddress completes a local part typed alone with the domain; "@" or
// an empty local part with "@domain" is the catch-all.
func aliasAddress(in, domain string) string {
	in = strings.TrimSpace(in)
	if in == "" || strings.Contains(in, "@") {
		return in
	}
	return in + "@" + domain
}

func (h *Handler) aliasCreate(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), current(r).Actor
	d, err := h.svc.Domain(ctx, a, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(r)
	addr := aliasAddress(f.Get("address"), d.Name)
	if addr == "@" {
		addr = "@" + d.Name
	}
	in := admin.AliasInput{Address: &addr, Destinations: f.lines("destinations"), Active: f.checkbox("active")}
	al, err := h.svc.CreateAlias(ctx, a, d.Name, in)
	if !f.fail(err) {
		if err != nil {
			h.fail(w, r, err)
			return
		}
		redirect(w, r, "/domains/"+url.PathEscape(d.Name)+"/aliases?done=created#"+url.QueryEscape(al.Address))
		return
	}
	h.render(w, r, f.Status(), "alias_form.html", &view{Title: "New alias in " + d.UnicodeName, Nav: "domains", Form: f, D: aliasForm{Domain: d}})
}

func (h *Handler) aliasEdit(w http.ResponseWriter, r *http.Request) {
	al, d, ok := h.aliasAndDomain(w, r)
	if !ok {
		return
	}
	f := newForm(nil)
	f.Values.Set("destinations", joinLines(al.Destinations))
	if al.Active {
		f.Values.Set("active", "on")
	}
	h.render(w, r, http.StatusOK, "alias_form.html", &view{Title: "Alias " + al.Address, Nav: "domains", Form: f, D: aliasForm{Domain: d, Alias: &al}})
}

func (h *Handler) aliasUpdate(w http.ResponseWriter, r *http.Request) {
	al, d, ok := h.aliasAndDomain(w, r)
	if !ok {
		return
	}
	f := newForm(r)
	_, err := h.svc.UpdateAlias(r.Context(), current(r).Actor, al.Address, admin.AliasInput{Destinations: f.lines("destinations"), Active: f.checkbox("active")})
	if !f.fail(err) {
		if err != nil {
			h.fail(w, r, err)
			return
		}
		redirect(w, r, aliasPath(al.Address)+"?done=saved")
		return
	}
	h.render(w, r, f.Status(), "alias_form.html", &view{Title: "Alias " + al.Address, Nav: "domains", Form: f, D: aliasForm{Domain: d, Alias: &al}})
}

func (h *Handler) aliasActive(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	active := f.Get("active") == "true"
	al, err := h.svc.UpdateAlias(r.Context(), current(r).Actor, param(r, "address"), admin.AliasInput{Active: &active})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, withDone(back(f, aliasPath(al.Address)), onOff(active)))
}

func aliasConfirm(al admin.AliasView) confirmData {
	return confirmData{Action: aliasPath(al.Address) + "/delete", What: al.Address, Button: "Delete alias",
		Cancel: aliasPath(al.Address),
		Says: []string{"Mail to " + al.Address + " will no longer go to " + strings.Join(al.Destinations, ", ") +
			"; it is refused unless a catch-all takes it."}}
}

func (h *Handler) aliasDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	al, err := h.svc.Alias(r.Context(), current(r).Actor, param(r, "address"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm.html", &view{Title: "Delete alias " + al.Address, Nav: "domains", Form: newForm(nil), D: aliasConfirm(al)})
}

func (h *Handler) aliasDelete(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), current(r).Actor
	al, err := h.svc.Alias(ctx, a, param(r, "address"))
	if err == nil {
		err = h.svc.DeleteAlias(ctx, a, al.Address)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/domains/"+url.PathEscape(al.Domain)+"/aliases?done=deleted")
}

func (h *Handler) aliasDomainList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	l, err := h.svc.AliasDomains(r.Context(), current(r).Actor, admin.ListParams{Q: q.Get("q"), Cursor: q.Get("cursor")})
	if err != nil {
		if newForm(nil).fail(err) {
			h.errorPage(w, r, http.StatusBadRequest, "Bad request", "The search or page link is not valid.")
			return
		}
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "alias_domains.html", &view{Title: "Alias domains", Nav: "alias-domains",
		D: listData[admin.AliasDomainView]{Q: q.Get("q"), Items: l.Items, Next: nextURL("/alias-domains", q.Get("q"), l.NextCursor)}})
}

func (h *Handler) aliasDomainNew(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil)
	f.Values.Set("target_domain", r.URL.Query().Get("target"))
	f.Values.Set("active", "on")
	h.render(w, r, http.StatusOK, "alias_domain_form.html", &view{Title: "New alias domain", Nav: "alias-domains", Form: f})
}

func (h *Handler) aliasDomainCreate(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	in := admin.AliasDomainInput{AliasDomain: f.str("alias_domain"), TargetDomain: f.str("target_domain"), Active: f.checkbox("active")}
	_, err := h.svc.CreateAliasDomain(r.Context(), current(r).Actor, in)
	if !f.fail(err) {
		if err != nil {
			h.fail(w, r, err)
			return
		}
		redirect(w, r, "/alias-domains?done=created")
		return
	}
	h.render(w, r, f.Status(), "alias_domain_form.html", &view{Title: "New alias domain", Nav: "alias-domains", Form: f})
}

func aliasDomainConfirm(ad admin.AliasDomainView) confirmData {
	return confirmData{Action: "/alias-domains/" + url.PathEscape(ad.AliasDomain) + "/delete", What: ad.UnicodeAliasDomain,
		Button: "Delete alias domain", Cancel: "/alias-domains",
		Says: []string{"Mail to addresses at " + ad.UnicodeAliasDomain + " will no longer reach " + ad.TargetDomain + "; it is refused."}}
}

func (h *Handler) aliasDomainDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	ad, err := h.svc.AliasDomain(r.Context(), current(r).Actor, param(r, "name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm.html", &view{Title: "Delete alias domain " + ad.UnicodeAliasDomain, Nav: "alias-domains",
		Form: newForm(nil), D: aliasDomainConfirm(ad)})
}

func (h *Handler) aliasDomainDelete(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.DeleteAliasDomain(r.Context(), current(r).Actor, param(r, "name")); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/alias-domains?done=deleted")
}

type auditPage struct {
	Items []admin.AuditView
	Next  string
}

var auditFilters = []string{"actor", "action", "object_type", "object", "domain", "since", "until"}

func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := newForm(nil)
	for _, k := range auditFilters {
		f.Values.Set(k, strings.TrimSpace(q.Get(k)))
	}
	p := admin.AuditParams{Actor: f.Get("actor"), Action: f.Get("action"), ObjectType: f.Get("object_type"),
		Object: f.Get("object"), Domain: f.Get("domain"), Cursor: q.Get("cursor"),
		Since: f.date("since", false), Until: f.date("until", true)}
	var l admin.List[admin.AuditView]
	if !f.Has() {
		var err error
		l, err = h.svc.AuditLog(r.Context(), current(r).Actor, p)
		if err != nil && !f.fail(err) {
			h.fail(w, r, err)
			return
		}
	}
	next := ""
	if l.NextCursor != "" {
		v := url.Values{}
		for _, k := range auditFilters {
			if x := f.Get(k); x != "" {
				v.Set(k, x)
			}
		}
		v.Set("cursor", l.NextCursor)
		next = "/audit?" + v.Encode()
	}
	status := http.StatusOK
	if f.Has() {
		status = http.StatusUnprocessableEntity
	}
	h.render(w, r, status, "audit.html", &view{Title: "Audit log", Nav: "audit", Form: f, D: auditPage{Items: l.Items, Next: next}})
}
