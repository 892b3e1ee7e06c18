package web

import (
	"net/http"
	"net/url"

	"mailhost/admin"
)

func mailboxPath(addr string) string { return "/mailboxes/" + url.PathEscape(addr) }

func (h *Handler) mailboxAndDomain(w http.ResponseWriter, r *http.Request) (admin.MailboxView, admin.DomainView, bool) {
	return withDomain(h, w, r, h.svc.Mailbox, func(m admin.MailboxView) string { return m.Domain })
}

func (h *Handler) mailboxList(w http.ResponseWriter, r *http.Request) {
	domainList(h, w, r, "mailboxes", "Mailboxes of ", h.svc.Mailboxes)
}

type mailboxForm struct {
	Domain    admin.DomainView
	Mailbox   *admin.MailboxView // nil on create
	Generated string             // a generated password, shown once
}

func (h *Handler) mailboxNew(w http.ResponseWriter, r *http.Request) {
	d, err := h.svc.Domain(r.Context(), current(r).Actor, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(nil)
	f.Values.Set("active", "on")
	if d.MaxQuotaBytes > 0 {
		f.Values.Set("quota_bytes", sizeValue(d.MaxQuotaBytes))
	}
	h.render(w, r, http.StatusOK, "mailbox_form.html", &view{Title: "New mailbox in " + d.UnicodeName, Nav: "domains", Form: f,
		D: mailboxForm{Domain: d}})
}

func (h *Handler) mailboxCreate(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), current(r).Actor
	d, err := h.svc.Domain(ctx, a, param(r, "domain"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(r)
	in := admin.MailboxInput{LocalPart: f.str("local_part"), Name: f.str("name"), Active: f.checkbox("active")}
	f.size("quota_bytes", &in.QuotaBytes)
	in.Password = f.optionalSecret("password")
	if !f.Has() {
		m, err := h.svc.CreateMailbox(ctx, a, d.Name, in)
		if !f.fail(err) {
			if err != nil {
				h.fail(w, r, err)
				return
			}
			if m.Password == "" {
				redirect(w, r, mailboxPath(m.Address)+"?done=created")
				return
			}
			// The generated password is shown this once, never stored.
			h.render(w, r, http.StatusCreated, "mailbox_created.html", &view{Title: "Mailbox " + m.Address + " created", Nav: "domains",
				D: mailboxForm{Domain: d, Mailbox: &m, Generated: m.Password}})
			return
		}
	}
	h.render(w, r, f.Status(), "mailbox_form.html", &view{Title: "New mailbox in " + d.UnicodeName, Nav: "domains",
		Form: f, D: mailboxForm{Domain: d}})
}

func (h *Handler) mailboxEdit(w http.ResponseWriter, r *http.Request) {
	m, d, ok := h.mailboxAndDomain(w, r)
	if !ok {
		return
	}
	f := newForm(nil)
	f.Values.Set("name", m.Name)
	f.Values.Set("quota_bytes", sizeValue(m.QuotaBytes))
	if m.Active {
		f.Values.Set("active", "on")
	}
	h.render(w, r, http.StatusOK, "mailbox_form.html", &view{Title: "Mailbox " + m.Address, Nav: "domains", Form: f,
		D: mailboxForm{Domain: d, Mailbox: &m}})
}

func (h *Handler) mailboxUpdate(w http.ResponseWriter, r *http.Request) {
	m, d, ok := h.mailboxAndDomain(w, r)
	if !ok {
		return
	}
	f := newForm(r)
	in := admin.MailboxInput{Name: f.str("name"), Active: f.checkbox("active")}
	f.size("quota_bytes", &in.QuotaBytes)
	in.Password = f.optionalSecret("password")
	if !f.Has() {
		_, err := h.svc.UpdateMailbox(r.Context(), current(r).Actor, m.Address, in)
		if !f.fail(err) {
			if err != nil {
				h.fail(w, r, err)
				return
			}
			redirect(w, r, mailboxPath(m.Address)+"?done=saved")
			return
		}
	}
	h.render(w, r, f.Status(), "mailbox_form.html", &view{Title: "Mailbox " + m.Address, Nav: "domains", Form: f,
		D: mailboxForm{Domain: d, Mailbox: &m}})
}

func (h *Handler) mailboxActive(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	active := f.Get("active") == "true"
	m, err := h.svc.UpdateMailbox(r.Context(), current(r).Actor, param(r, "address"), admin.MailboxInput{Active: &active})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, withDone(back(f, mailboxPath(m.Address)), onOff(active)))
}

func (h *Handler) mailboxConfirm(m admin.MailboxView) confirmData {
	return confirmData{Action: mailboxPath(m.Address) + "/delete", What: m.Address, Button: "Delete mailbox",
		Cancel: mailboxPath(m.Address),
		Says: []string{
			"The mailbox " + m.Address + " will be deleted: it stops receiving mail and its owner can no longer log in.",
			"Its mail (" + humanSize(m.UsedBytes) + ") moves to the retention area for " + itoa(h.opts.RetentionDays) +
				" days, then is removed for good.",
		},
		Force: "purge", ForceIs: "Remove its mail at once instead of keeping it in the retention area"}
}

func (h *Handler) mailboxDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	m, err := h.svc.Mailbox(r.Context(), current(r).Actor, param(r, "address"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm.html", &view{Title: "Delete mailbox " + m.Address, Nav: "domains", Form: newForm(nil),
		D: h.mailboxConfirm(m)})
}

func (h *Handler) mailboxDelete(w http.ResponseWriter, r *http.Request) {
	ctx, a := r.Context(), current(r).Actor
	f := newForm(r)
	m, err := h.svc.Mailbox(ctx, a, param(r, "address"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	err = h.svc.DeleteMailbox(ctx, a, m.Address, f.Get("purge") != "")
	if f.fail(err) {
		h.render(w, r, f.Status(), "confirm.html", &view{Title: "Delete mailbox " + m.Address, Nav: "domains", Form: f,
			D: h.mailboxConfirm(m)})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/domains/"+url.PathEscape(m.Domain)+"/mailboxes?done=deleted")
}
