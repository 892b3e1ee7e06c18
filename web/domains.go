package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"mailhost/admin"
)

func unescape(s string) (string, error) { return url.PathUnescape(s) }

// home is the dashboard for admins and the account page for owners.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	s := current(r)
	switch {
	case s == nil:
		h.toLogin(w, r)
		return
	case s.Kind == "user":
		redirect(w, r, "/me")
		return
	}
	ctx := r.Context()
	type dash struct {
		Domains, Mailboxes, Aliases int64
		Alloc, Used                 int64
		Recent                      []admin.AuditView
		Queue                       *admin.QueueSummary // super-admins only
		Activity                    *admin.ActivityView // super-admins only
	}
	var d dash
	p := admin.ListParams{Limit: admin.MaxLimit}
	for {
		l, err := h.svc.Domains(ctx, s.Actor, p)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, x := range l.Items {
			d.Domains++
			if x.Usage != nil {
				d.Mailboxes += x.Usage.Mailboxes
				d.Aliases += x.Usage.Aliases
				d.Alloc += x.Usage.QuotaAllocatedBytes
				d.Used += x.Usage.QuotaUsedBytes
			}
		}
		if l.NextCursor == "" {
			break
		}
		p.Cursor = l.NextCursor
	}
	a, err := h.svc.AuditLog(ctx, s.Actor, admin.AuditParams{Limit: 10})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Recent = a.Items
	if s.Can.Queue {
		q, err := h.svc.QueueSummary(ctx, s.Actor)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.Queue = &q
	}
	if s.Actor.Superadmin {
		act, err := h.svc.Activity(ctx, s.Actor, "")
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.Activity = &act
	}
	h.render(w, r, http.StatusOK, "dashboard.html", &view{Title: "Dashboard", Nav: "home", D: d})
}

type listData[T any] struct {
	Q      string
	Items  []T
	Next   string // URL of the next page
	Domain *admin.DomainView
	Base   string
}

// domainList renders one page of a domain's objects of one kind (the
// template <kind>.html under /domains/{domain}/<kind>), searched with q.
// The domain is looked up first, so another domain's admin gets 404.
func domainList[T any](h *Handler, w http.ResponseWriter, r *http.Request, kind, title string,
	list func(context.Context, admin.Actor, string, admin.ListParams) (admin.List[T], error)) {
	ctx, a := r.Context(), current(r).Actor
	d, err := h.svc.Domain(ctx, a, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	l, err := list(ctx, a, d.Name, admin.ListParams{Q: q.Get("q"), Cursor: q.Get("cursor")})
	if err != nil {
		if newForm(nil).fail(err) {
			h.errorPage(w, r, http.StatusBadRequest, "Bad request", "The search or page link is not valid.")
			return
		}
		h.fail(w, r, err)
		return
	}
	base := "/domains/" + url.PathEscape(d.Name) + "/" + kind
	h.render(w, r, http.StatusOK, kind+".html", &view{Title: title + d.UnicodeName, Nav: "domains",
		D: listData[T]{Q: q.Get("q"), Items: l.Items, Domain: &d, Base: base, Next: nextURL(base, q.Get("q"), l.NextCursor)}})
}

// withDomain looks up the object named by the {address} parameter with
// get, then the domain it belongs to; when either fails the answer is sent
// and ok is false.
func withDomain[T any](h *Handler, w http.ResponseWriter, r *http.Request,
	get func(context.Context, admin.Actor, string) (T, error), domainOf func(T) string) (T, admin.DomainView, bool) {
	ctx, a := r.Context(), current(r).Actor
	v, err := get(ctx, a, param(r, "address"))
	if err != nil {
		h.fail(w, r, err)
		return v, admin.DomainView{}, false
	}
	d, err := h.svc.Domain(ctx, a, domainOf(v))
	if err != nil {
		h.fail(w, r, err)
		return v, admin.DomainView{}, false
	}
	return v, d, true
}

// nextURL is the URL of the page after cursor with the filter q.
func nextURL(base, q, cursor string) string {
	if cursor == "" {
		return ""
	}
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	v.Set("cursor", cursor)
	return base + "?" + v.Encode()
}

func (h *Handler) domainList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	l, err := h.svc.Domains(r.Context(), current(r).Actor, admin.ListParams{Q: q.Get("q"), Cursor: q.Get("cursor")})
	if err != nil {
		if f := newForm(nil); f.fail(err) {
			h.errorPage(w, r, http.StatusBadRequest, "Bad request", "The search or page link is not valid.")
			return
		}
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "domains.html", &view{Title: "Domains", Nav: "domains",
		D: listData[admin.DomainView]{Q: q.Get("q"), Items: l.Items, Next: nextURL("/domains", q.Get("q"), l.NextCursor)}})
}

type domainPage struct {
	Dom       admin.DomainView
	Client    Client
	Aliases   []admin.AliasDomainView
	HasMore   bool
	Mailboxes []admin.MailboxView
	Activity  admin.ActivityView // its deliveries, mail sent from it, its storage
}

func (h *Handler) domainShow(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), current(r).Actor
	d, err := h.svc.Domain(ctx, a, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p := domainPage{Dom: d, Client: h.opts.Client}
	if p.Activity, err = h.svc.Activity(ctx, a, d.Name); err != nil {
		h.fail(w, r, err)
		return
	}
	ads, err := h.svc.AliasDomains(ctx, a, admin.ListParams{Limit: admin.MaxLimit})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, ad := range ads.Items {
		if ad.TargetDomain == d.Name {
			p.Aliases = append(p.Aliases, ad)
		}
	}
	h.render(w, r, http.StatusOK, "domain.html", &view{Title: "Domain " + d.UnicodeName, Nav: "domains", D: p})
}

// domainInput reads the domain form; errors of its own (sizes, numbers)
// go into f.
func domainInput(f *form, create bool) admin.DomainInput {
	var in admin.DomainInput
	if create {
		in.Name = f.str("name")
		in.Active = f.checkbox("active")
	}
	in.Description = f.str("description")
	if f.Get("kind") != "" {
		in.Kind = f.str("kind")
	}
	// A form without the field (a domain admin's: the service lets only a
	// super-admin change it) leaves it as it is.
	if _, ok := f.Values["relay_to"]; ok && (!create || f.Get("relay_to") != "") {
		in.RelayTo = f.str("relay_to")
	}
	f.count("max_mailboxes", &in.MaxMailboxes)
	f.count("max_aliases", &in.MaxAliases)
	f.size("max_quota_bytes", &in.MaxQuotaBytes)
	f.size("quota_bytes", &in.QuotaBytes)
	if _, ok := f.Values["acme_shown"]; ok { // the checkbox is on super-admins' forms only
		in.ACME = f.checkbox("acme")
	}
	return in
}

type domainForm struct {
	Create   bool
	Name     string
	EditKind bool // the service lets this admin change kind and next hop
}

func (h *Handler) domainNew(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil)
	f.Values.Set("kind", or(r.URL.Query().Get("kind"), "local"))
	f.Values.Set("active", "on")
	h.render(w, r, http.StatusOK, "domain_form.html", &view{Title: "New domain", Nav: "domains", Form: f,
		D: domainForm{Create: true, EditKind: current(r).Can.Domains}})
}

func (h *Handler) domainCreate(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	in := domainInput(f, true)
	if !f.Has() {
		d, err := h.svc.CreateDomain(r.Context(), current(r).Actor, in)
		if !f.fail(err) {
			if err != nil {
				h.fail(w, r, err)
				return
			}
			redirect(w, r, "/domains/"+url.PathEscape(d.Name)+"?done=created")
			return
		}
	}
	h.render(w, r, f.Status(), "domain_form.html", &view{Title: "New domain", Nav: "domains", Form: f,
		D: domainForm{Create: true, EditKind: current(r).Can.Domains}})
}

func (h *Handler) domainEdit(w http.ResponseWriter, r *http.Request) {
	d, err := h.svc.Domain(r.Context(), current(r).Actor, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(nil)
	f.Values.Set("description", d.Description)
	f.Values.Set("kind", d.Kind)
	f.Values.Set("relay_to", d.RelayTo)
	f.Values.Set("max_mailboxes", strconv.Itoa(int(d.MaxMailboxes)))
	f.Values.Set("max_aliases", strconv.Itoa(int(d.MaxAliases)))
	f.Values.Set("max_quota_bytes", sizeValue(d.MaxQuotaBytes))
	f.Values.Set("quota_bytes", sizeValue(d.QuotaBytes))
	if d.ACME {
		f.Values.Set("acme", "on")
	}
	h.render(w, r, http.StatusOK, "domain_form.html", &view{Title: "Edit domain " + d.UnicodeName, Nav: "domains", Form: f,
		D: domainForm{Name: d.Name, EditKind: current(r).Can.Domains}})
}

func (h *Handler) domainUpdate(w http.ResponseWriter, r *http.Request) {
	a := current(r).Actor
	name := param(r, "domain")
	d, err := h.svc.Domain(r.Context(), a, name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(r)
	in := domainInput(f, false)
	if !f.Has() {
		_, err := h.svc.UpdateDomain(r.Context(), a, d.Name, in)
		if !f.fail(err) {
			if err != nil {
				h.fail(w, r, err)
				return
			}
			redirect(w, r, "/domains/"+url.PathEscape(d.Name)+"?done=saved")
			return
		}
	}
	can := current(r).Can
	if !can.Domains { // shown, not editable
		f.Values.Set("kind", d.Kind)
		f.Values.Set("relay_to", d.RelayTo)
	}
	h.render(w, r, f.Status(), "domain_form.html", &view{Title: "Edit domain " + d.UnicodeName, Nav: "domains",
		Form: f, D: domainForm{Name: d.Name, EditKind: can.Domains}})
}

// back returns the local path in the form's "back" field, or def.
func back(f *form, def string) string {
	if b := f.Get("back"); localPath(b) {
		return b
	}
	return def
}

func onOff(active bool) string {
	if active {
		return "on"
	}
	return "off"
}

func withDone(path, done string) string {
	u, err := url.Parse(path)
	if err != nil {
		return path
	}
	q := u.Query()
	q.Set("done", done)
	u.RawQuery = q.Encode()
	return u.String()
}

func (h *Handler) domainActive(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	active := f.Get("active") == "true"
	d, err := h.svc.UpdateDomain(r.Context(), current(r).Actor, param(r, "domain"), admin.DomainInput{Active: &active})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, withDone(back(f, "/domains/"+url.PathEscape(d.Name)), onOff(active)))
}

type confirmData struct {
	Action  string // form action
	What    string // the object
	Says    []string
	Button  string
	Cancel  string
	Force   string // name of an optional checkbox ("" for none)
	ForceIs string // its label
}

func (h *Handler) domainDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	d, err := h.svc.Domain(r.Context(), current(r).Actor, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm.html", &view{Title: "Delete domain " + d.UnicodeName, Nav: "domains", Form: newForm(nil),
		D: h.domainConfirm(d)})
}

func (h *Handler) domainConfirm(d admin.DomainView) confirmData {
	c := confirmData{Action: "/domains/" + url.PathEscape(d.Name) + "/delete", What: d.UnicodeName,
		Button: "Delete domain", Cancel: "/domains/" + url.PathEscape(d.Name)}
	c.Says = append(c.Says, "The domain "+d.UnicodeName+" will no longer receive mail here, and its alias domains go with it.")
	if d.Usage != nil && (d.Usage.Mailboxes > 0 || d.Usage.Aliases > 0) {
		c.Says = append(c.Says, "It still has "+strconv.FormatInt(d.Usage.Mailboxes, 10)+" mailboxes and "+
			strconv.FormatInt(d.Usage.Aliases, 10)+" aliases. Deleting it anyway deletes them too: the mailboxes' mail moves to the retention area for "+
			strconv.Itoa(h.opts.RetentionDays)+" days, then is removed.")
		c.Force, c.ForceIs = "force", "Delete its mailboxes and aliases too"
	}
	return c
}

func (h *Handler) domainDelete(w http.ResponseWriter, r *http.Request) {
	a := current(r).Actor
	f := newForm(r)
	d, err := h.svc.Domain(r.Context(), a, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	err = h.svc.DeleteDomain(r.Context(), a, d.Name, f.Get("force") != "")
	if f.fail(err) {
		h.render(w, r, f.Status(), "confirm.html", &view{Title: "Delete domain " + d.UnicodeName, Nav: "domains", Form: f, D: h.domainConfirm(d)})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/domains?done=deleted")
}
