package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mailhost/admin"
)

// The pages of the SMTP server's policy tables: access rules (Postfix
// access(5)) and relocated addresses (Postfix relocated(5)). A super-admin
// reaches them from the navigation; a domain admin from its domain's page,
// filtered to that domain. What each may see and change is the admin
// service's decision.

// choice is one radio button of a fieldset.
type choice struct {
	Value, Label, Hint string
}

// accessKinds are the kinds of rules in the order the server consults them.
var accessKinds = []choice{
	{admin.AccessClient, "Client address", "an IP address, a network such as 192.0.2.0/24, or the first octets of an IPv4 address such as 192.0.2"},
	{admin.AccessHelo, "HELO name", "the name the client gives in HELO/EHLO: host.example, example (with its subdomains), .example (only subdomains), [192.0.2.1]"},
	{admin.AccessSender, "Sender", "the envelope sender: user@example.com, @example.com, example.com (with subdomains), .example.com, user@, or <> for bounces"},
	{admin.AccessRecipient, "Recipient", "the envelope recipient: user@example.com, @example.com, example.com (with subdomains), .example.com or user@"},
}

// accessActions are the actions, the whole-message ones last.
var accessActions = []choice{
	{admin.ActionReject, "REJECT", "refuse: 554 5.7.1 and the text (or the code below, 5xx)"},
	{admin.ActionDefer, "DEFER", "refuse for now, the sender retries: 450 4.7.1 and the text (or the code below, 4xx)"},
	{admin.ActionOK, "OK", "accept: the later access checks and the DNS block lists are skipped (never the server's own checks)"},
	{admin.ActionDunno, "DUNNO", "as if nothing matched: an exception to a broader rule"},
	{admin.ActionDiscard, "DISCARD", "accept the whole message and drop it; the text is logged"},
	{admin.ActionHold, "HOLD", "accept the whole message into the queue on hold, until released; the text is logged"},
}

func kindLabel(k string) string {
	for _, c := range accessKinds {
		if c.Value == k {
			return c.Label
		}
	}
	return k
}

func accessPath(id int64) string { return "/access/" + strconv.FormatInt(id, 10) }

// accessListPage is the list with its filters.
type accessListPage struct {
	Items  []admin.AccessRuleView
	Next   string
	Kinds  []choice
	Domain string // the domain filter, for the new rule link
}

// Label names a kind for the page.
func (accessListPage) Label(k string) string { return kindLabel(k) }

// Verb is the action of a rule written as a bare code ("451": DEFER), ""
// when the rule names it.
func (accessListPage) Verb(v admin.AccessRuleView) string {
	if strings.HasPrefix(v.Rule, v.Action) {
		return ""
	}
	return v.Action
}

// accessNav is the navigation entry to mark: a domain admin reaches the
// policy pages from its domains.
func accessNav(r *http.Request, nav string) string {
	if current(r).Can.Policy {
		return nav
	}
	return "domains"
}

func (h *Handler) accessList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := newForm(nil)
	for _, k := range []string{"kind", "domain", "q"} {
		f.Values.Set(k, strings.TrimSpace(q.Get(k)))
	}
	l, err := h.svc.AccessRules(r.Context(), current(r).Actor, admin.AccessRuleParams{Kind: f.Get("kind"), Domain: f.Get("domain"),
		ListParams: admin.ListParams{Q: f.Get("q"), Cursor: q.Get("cursor")}})
	if err != nil && !f.fail(err) {
		h.fail(w, r, err)
		return
	}
	next := ""
	if l.NextCursor != "" {
		v := url.Values{}
		for _, k := range []string{"kind", "domain", "q"} {
			if x := f.Get(k); x != "" {
				v.Set(k, x)
			}
		}
		v.Set("cursor", l.NextCursor)
		next = "/access?" + v.Encode()
	}
	status := http.StatusOK
	if f.Has() {
		status = f.Status()
	}
	h.render(w, r, status, "access.html", &view{Title: "Access rules", Nav: accessNav(r, "access"), Form: f,
		D: accessListPage{Items: l.Items, Next: next, Kinds: accessKinds, Domain: f.Get("domain")}})
}

// accessFormPage is the create or edit form.
type accessFormPage struct {
	Rule    *admin.AccessRuleView // nil when creating
	Kinds   []choice
	Actions []choice
	Cancel  string
}

// Label names a kind for the page.
func (accessFormPage) Label(k string) string { return kindLabel(k) }

// choiceSet is a fieldset of radio buttons for the "choices" template.
type choiceSet struct {
	F            *form
	Name, Legend string
	Choices      []choice
}

// KindSet is the kind's fieldset.
func (p accessFormPage) KindSet(f *form) choiceSet {
	return choiceSet{F: f, Name: "kind", Legend: "Kind", Choices: p.Kinds}
}

// ActionSet is the action's fieldset.
func (p accessFormPage) ActionSet(f *form) choiceSet {
	return choiceSet{F: f, Name: "action", Legend: "Action", Choices: p.Actions}
}

func accessForm(r *http.Request, rule *admin.AccessRuleView, cancel string) accessFormPage {
	p := accessFormPage{Rule: rule, Kinds: accessKinds, Actions: accessActions, Cancel: cancel}
	if !current(r).Can.Policy {
		// The service refuses the others to domain admins; offer only
		// what it accepts.
		p.Kinds, p.Actions = accessKinds[3:], accessActions[:4]
	}
	return p
}

// accessInput reads the form's action, code, text and comment.
func accessInput(f *form) admin.AccessRuleInput {
	in := admin.AccessRuleInput{Action: f.str("action"), Text: f.str("text"), Comment: f.str("comment")}
	if c := f.Get("code"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil {
			f.Errors["code"] = "must be a three-digit reply code such as 550 or 451"
		} else {
			in.Code = &n
		}
	}
	return in
}

func (h *Handler) accessNew(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil)
	f.Values.Set("action", admin.ActionReject)
	cancel := "/access"
	if d := r.URL.Query().Get("domain"); d != "" {
		f.Values.Set("kind", admin.AccessRecipient)
		f.Values.Set("pattern", "@"+d)
		cancel = "/access?domain=" + url.QueryEscape(d)
	}
	if !current(r).Can.Policy {
		f.Values.Set("kind", admin.AccessRecipient)
	}
	h.render(w, r, http.StatusOK, "access_form.html", &view{Title: "New access rule", Nav: accessNav(r, "access"), Form: f,
		D: accessForm(r, nil, cancel)})
}

func (h *Handler) accessCreate(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	in := accessInput(f)
	in.Kind, in.Pattern = f.str("kind"), f.str("pattern")
	if !f.Has() {
		rule, err := h.svc.CreateAccessRule(r.Context(), current(r).Actor, in)
		if !f.fail(err) {
			if err != nil {
				h.fail(w, r, err)
				return
			}
			to := "/access?done=created"
			if rule.Domain != "" && !current(r).Can.Policy {
				to = "/access?domain=" + url.QueryEscape(rule.Domain) + "&done=created"
			}
			redirect(w, r, to)
			return
		}
	}
	if f.Error == "" {
		f.Error = "Please correct the errors below."
	}
	h.render(w, r, f.Status(), "access_form.html", &view{Title: "New access rule", Nav: accessNav(r, "access"), Form: f,
		D: accessForm(r, nil, "/access")})
}

func (h *Handler) accessEdit(w http.ResponseWriter, r *http.Request) {
	rule, err := h.svc.AccessRule(r.Context(), current(r).Actor, param(r, "id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(nil)
	f.Values.Set("action", rule.Action)
	if (rule.Action == admin.ActionReject && rule.Code != admin.DefaultRejectCode) ||
		(rule.Action == admin.ActionDefer && rule.Code != admin.DefaultDeferCode) {
		f.Values.Set("code", strconv.Itoa(rule.Code))
	}
	f.Values.Set("text", rule.Text)
	f.Values.Set("comment", rule.Comment)
	h.render(w, r, http.StatusOK, "access_form.html", &view{Title: "Access rule " + rule.Pattern, Nav: accessNav(r, "access"), Form: f,
		D: accessForm(r, &rule, accessBack(r, rule))})
}

// accessBack is the list a rule's pages lead back to.
func accessBack(r *http.Request, rule admin.AccessRuleView) string {
	if rule.Domain != "" && !current(r).Can.Policy {
		return "/access?domain=" + url.QueryEscape(rule.Domain)
	}
	return "/access"
}

func (h *Handler) accessUpdate(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), current(r).Actor
	rule, err := h.svc.AccessRule(ctx, a, param(r, "id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(r)
	in := accessInput(f)
	if !f.Has() {
		_, err := h.svc.UpdateAccessRule(ctx, a, param(r, "id"), in)
		if !f.fail(err) {
			if err != nil {
				h.fail(w, r, err)
				return
			}
			redirect(w, r, withDone(accessBack(r, rule), "saved"))
			return
		}
	}
	if f.Error == "" {
		f.Error = "Please correct the errors below."
	}
	h.render(w, r, f.Status(), "access_form.html", &view{Title: "Access rule " + rule.Pattern, Nav: accessNav(r, "access"), Form: f,
		D: accessForm(r, &rule, accessBack(r, rule))})
}

func (h *Handler) accessDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	rule, err := h.svc.AccessRule(r.Context(), current(r).Actor, param(r, "id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm.html", &view{Title: "Delete the " + strings.ToLower(kindLabel(rule.Kind)) + " rule " + rule.Pattern,
		Nav: accessNav(r, "access"), Form: newForm(nil),
		D: confirmData{Action: accessPath(rule.ID) + "/delete", What: rule.Pattern, Button: "Delete rule", Cancel: accessPath(rule.ID),
			Says: []string{"The SMTP server stops answering " + rule.Rule + " for " + kindLabel(rule.Kind) + " " + rule.Pattern +
				"; a broader rule, if any, applies instead."}}})
}

func (h *Handler) accessDelete(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), current(r).Actor
	rule, err := h.svc.AccessRule(ctx, a, param(r, "id"))
	if err == nil {
		err = h.svc.DeleteAccessRule(ctx, a, param(r, "id"))
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, withDone(accessBack(r, rule), "deleted"))
}
