package web

import (
	"net/http"
	"net/url"

	"mailhost/admin"
)

// A domain's Sieve scripts (run before or after every owner's script, or
// kept for `include :global`), over admin.DomainSieveScripts and friends:
// the panel's face of /api/v1/domains/{domain}/sieve/scripts.

// domainSievePositions are the places a domain script can run from.
var domainSievePositions = []choice{
	{"before", "Before the owner's script", "runs first for every mailbox of the domain, as Dovecot's sieve_before (for example: spam into Junk); a fileinto here does not stop the owner's script"},
	{"after", "After the owner's script", "runs last, unless a script before it stopped, as Dovecot's sieve_after"},
	{"global", "For include only", "runs only where a script says include :global \"name\""},
}

// domainSieveForm is the edit form's data.
type domainSieveForm struct {
	Domain string
	Name   string // "" for a new script
}

// PositionSet is the position's fieldset.
func (domainSieveForm) PositionSet(f *form) choiceSet {
	return choiceSet{F: f, Name: "position", Legend: "Runs", Choices: domainSievePositions}
}

func domainSievePath(domain, name string) string {
	p := "/domains/" + url.PathEscape(domain) + "/sieve"
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

func (h *Handler) domainSieveList(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.DomainSieveScripts(r.Context(), current(r).Actor, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "domain_sieve.html", &view{Title: "Filters of " + list.Owner, Nav: "domains", D: list})
}

func (h *Handler) domainSieveNew(w http.ResponseWriter, r *http.Request) {
	d, err := h.svc.DomainSieveScripts(r.Context(), current(r).Actor, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(nil)
	f.Values.Set("position", "before")
	f.Values.Set("active", "on")
	h.renderDomainSieve(w, r, http.StatusOK, f, domainSieveForm{Domain: d.Owner})
}

func (h *Handler) domainSieveEdit(w http.ResponseWriter, r *http.Request) {
	sc, err := h.svc.DomainSieveScript(r.Context(), current(r).Actor, param(r, "domain"), param(r, "name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(nil)
	f.Values.Set("content", sc.Content)
	f.Values.Set("position", sc.Position)
	if sc.Active {
		f.Values.Set("active", "on")
	}
	h.renderDomainSieve(w, r, http.StatusOK, f, domainSieveForm{Domain: sc.Owner, Name: sc.Name})
}

// domainSieveSave creates (the name from the form) or replaces (the name
// from the path) a domain's script; a script that does not compile is
// refused with its line next to the text.
func (h *Handler) domainSieveSave(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), current(r).Actor
	d, err := h.svc.DomainSieveScripts(ctx, a, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(r)
	page := domainSieveForm{Domain: d.Owner, Name: param(r, "name")}
	put, name := h.svc.PutDomainSieveScript, page.Name
	if name == "" { // a new script: never one already there
		put, name = h.svc.CreateDomainSieveScript, f.Get("name")
	}
	_, err = put(ctx, a, d.Owner, name, admin.SieveScriptInput{
		Content: f.str("content"), Position: f.str("position"), Active: f.checkbox("active")})
	if !f.fail(err) {
		if err != nil {
			h.fail(w, r, err)
			return
		}
		redirect(w, r, withDone(domainSievePath(d.Owner, ""), "saved"))
		return
	}
	h.renderDomainSieve(w, r, f.Status(), f, page)
}

func (h *Handler) renderDomainSieve(w http.ResponseWriter, r *http.Request, status int, f *form, p domainSieveForm) {
	title := "New filter for " + p.Domain
	if p.Name != "" {
		title = "Filter " + p.Name + " of " + p.Domain
	}
	h.render(w, r, status, "domain_sieve_form.html", &view{Title: title, Nav: "domains", Form: f, D: p})
}

func domainSieveConfirm(sc admin.SieveScriptView) confirmData {
	says := "Mail for " + sc.Owner + " will no longer pass through this script."
	if sc.Position == "global" {
		says = "Scripts that include it (include :global, without :optional) fail at run time until it is back; their mail then goes to INBOX."
	}
	return confirmData{Action: domainSievePath(sc.Owner, sc.Name) + "/delete", What: sc.Name, Button: "Delete filter",
		Cancel: domainSievePath(sc.Owner, sc.Name), Says: []string{says}}
}

func (h *Handler) domainSieveDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	sc, err := h.svc.DomainSieveScript(r.Context(), current(r).Actor, param(r, "domain"), param(r, "name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm.html", &view{Title: "Delete filter " + sc.Name + " of " + sc.Owner, Nav: "domains",
		Form: newForm(nil), D: domainSieveConfirm(sc)})
}

func (h *Handler) domainSieveDelete(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), current(r).Actor
	sc, err := h.svc.DomainSieveScript(ctx, a, param(r, "domain"), param(r, "name"))
	if err == nil {
		err = h.svc.DeleteDomainSieveScript(ctx, a, sc.Owner, sc.Name)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, withDone(domainSievePath(sc.Owner, ""), "deleted"))
}
