package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"mailhost/admin"
)

// The forwarding and vacation pages serve admins (for any mailbox they
// manage) and mailbox owners (for their own) alike; ops says whose.
type replyOps struct {
	address string
	base    string // "/me" or "/mailboxes/<address>"
	nav     string
	getF    func(context.Context) (admin.ForwardingView, error)
	setF    func(context.Context, admin.ForwardingInput) (admin.ForwardingView, error)
	delF    func(context.Context) error
	getV    func(context.Context) (admin.VacationView, error)
	setV    func(context.Context, admin.VacationInput) (admin.VacationView, error)
	delV    func(context.Context) error
}

func (h *Handler) adminOps(r *http.Request) (replyOps, error) {
	a := current(r).Actor
	m, err := h.svc.Mailbox(r.Context(), a, param(r, "address"))
	if err != nil {
		return replyOps{}, err
	}
	addr := m.Address
	return replyOps{address: addr, base: mailboxPath(addr), nav: "domains",
		getF: func(ctx context.Context) (admin.ForwardingView, error) { return h.svc.Forwarding(ctx, a, addr) },
		setF: func(ctx context.Context, in admin.ForwardingInput) (admin.ForwardingView, error) {
			return h.svc.SetForwarding(ctx, a, addr, in)
		},
		delF: func(ctx context.Context) error { return h.svc.DeleteForwarding(ctx, a, addr) },
		getV: func(ctx context.Context) (admin.VacationView, error) { return h.svc.Vacation(ctx, a, addr) },
		setV: func(ctx context.Context, in admin.VacationInput) (admin.VacationView, error) {
			return h.svc.SetVacation(ctx, a, addr, in)
		},
		delV: func(ctx context.Context) error { return h.svc.DeleteVacation(ctx, a, addr) },
	}, nil
}

func (h *Handler) ownerOps(r *http.Request) replyOps {
	o := current(r).Owner
	return replyOps{address: o.Address, base: "/me", nav: "me",
		getF: func(ctx context.Context) (admin.ForwardingView, error) { return h.svc.OwnForwarding(ctx, o) },
		setF: func(ctx context.Context, in admin.ForwardingInput) (admin.ForwardingView, error) {
			return h.svc.SetOwnForwarding(ctx, o, in)
		},
		delF: func(ctx context.Context) error { return h.svc.DeleteOwnForwarding(ctx, o) },
		getV: func(ctx context.Context) (admin.VacationView, error) { return h.svc.OwnVacation(ctx, o) },
		setV: func(ctx context.Context, in admin.VacationInput) (admin.VacationView, error) {
			return h.svc.SetOwnVacation(ctx, o, in)
		},
		delV: func(ctx context.Context) error { return h.svc.DeleteOwnVacation(ctx, o) },
	}
}

// navOf is the navigation entry of an owner's page; admins stay in domains.
func (o replyOps) navOf(page string) string {
	if o.nav == "me" {
		return page
	}
	return o.nav
}

type replyPage struct {
	Address string
	Base    string
	Exists  bool
}

func (h *Handler) withOps(fn func(http.ResponseWriter, *http.Request, replyOps)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if current(r).Kind == "user" {
			fn(w, r, h.ownerOps(r))
			return
		}
		ops, err := h.adminOps(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		fn(w, r, ops)
	}
}

func (h *Handler) forwardingPage(w http.ResponseWriter, r *http.Request, ops replyOps) {
	f := newForm(nil)
	fw, err := ops.getF(r.Context())
	exists := err == nil
	switch {
	case err == nil:
		f.Values.Set("destinations", joinLines(fw.Destinations))
		if fw.KeepCopy {
			f.Values.Set("keep_copy", "on")
		}
		if fw.Active {
			f.Values.Set("active", "on")
		}
	case admin.KindOf(err) == admin.NotFound:
		f.Values.Set("keep_copy", "on")
		f.Values.Set("active", "on")
	default:
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "forwarding.html", &view{Title: "Forwarding of " + ops.address, Nav: ops.navOf("forwarding"), Form: f,
		D: replyPage{Address: ops.address, Base: ops.base, Exists: exists}})
}

func (h *Handler) forwardingSet(w http.ResponseWriter, r *http.Request, ops replyOps) {
	f := newForm(r)
	in := admin.ForwardingInput{Destinations: f.lines("destinations"), KeepCopy: f.checkbox("keep_copy"), Active: f.checkbox("active")}
	_, err := ops.setF(r.Context(), in)
	if f.fail(err) {
		_, gerr := ops.getF(r.Context())
		h.render(w, r, f.Status(), "forwarding.html", &view{Title: "Forwarding of " + ops.address, Nav: ops.navOf("forwarding"), Form: f,
			D: replyPage{Address: ops.address, Base: ops.base, Exists: gerr == nil}})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, ops.base+"/forwarding?done=saved")
}

func (h *Handler) forwardingDelete(w http.ResponseWriter, r *http.Request, ops replyOps) {
	if err := ops.delF(r.Context()); err != nil && admin.KindOf(err) != admin.NotFound {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, ops.base+"/forwarding?done=deleted")
}

const dateLayout = "2006-01-02"

func (h *Handler) vacationPage(w http.ResponseWriter, r *http.Request, ops replyOps) {
	f := newForm(nil)
	v, err := ops.getV(r.Context())
	exists := err == nil
	switch {
	case err == nil:
		f.Values.Set("subject", v.Subject)
		f.Values.Set("body", v.Body)
		if v.ActiveFrom != nil {
			f.Values.Set("active_from", v.ActiveFrom.UTC().Format(dateLayout))
		}
		if v.ActiveUntil != nil {
			f.Values.Set("active_until", v.ActiveUntil.UTC().Add(-time.Second).Format(dateLayout))
		}
		f.Values.Set("interval_days", strconv.Itoa(int(v.IntervalSeconds/86400)))
		if v.Active {
			f.Values.Set("active", "on")
		}
	case admin.KindOf(err) == admin.NotFound:
		f.Values.Set("interval_days", "7")
		f.Values.Set("active", "on")
	default:
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "vacation.html", &view{Title: "Vacation reply of " + ops.address, Nav: ops.navOf("vacation"), Form: f,
		D: replyPage{Address: ops.address, Base: ops.base, Exists: exists}})
}

// date reads a date field: the start of that day in UTC, or with end the
// start of the next day (an "until" date includes its day).
func (f *form) date(name string, end bool) *time.Time {
	s := f.Get(name)
	if s == "" {
		return nil
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		f.Errors[name] = "must be a date such as 2026-07-31"
		return nil
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return &t
}

func (h *Handler) vacationSet(w http.ResponseWriter, r *http.Request, ops replyOps) {
	f := newForm(r)
	in := admin.VacationInput{Subject: f.str("subject"), Body: new(f.Values.Get("body")), Active: f.checkbox("active"),
		ActiveFrom: f.date("active_from", false), ActiveUntil: f.date("active_until", true)}
	if s := f.Get("interval_days"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > 365 {
			f.Errors["interval_days"] = "must be a number of days from 0 to 365"
		} else {
			in.IntervalSeconds = new(n * 86400)
		}
	}
	if !f.Has() {
		_, err := ops.setV(r.Context(), in)
		if !f.fail(err) {
			if err != nil {
				h.fail(w, r, err)
				return
			}
			redirect(w, r, ops.base+"/vacation?done=saved")
			return
		}
		if e, ok := f.Errors["interval_seconds"]; ok {
			f.Errors["interval_days"] = e
		}
	}
	_, gerr := ops.getV(r.Context())
	h.render(w, r, f.Status(), "vacation.html", &view{Title: "Vacation reply of " + ops.address, Nav: ops.navOf("vacation"), Form: f,
		D: replyPage{Address: ops.address, Base: ops.base, Exists: gerr == nil}})
}

func (h *Handler) vacationDelete(w http.ResponseWriter, r *http.Request, ops replyOps) {
	if err := ops.delV(r.Context()); err != nil && admin.KindOf(err) != admin.NotFound {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, ops.base+"/vacation?done=deleted")
}

func joinLines(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "\n"
		}
		out += x
	}
	return out
}

func (h *Handler) forwardingDeleteConfirm(w http.ResponseWriter, r *http.Request, ops replyOps) {
	fw, err := ops.getF(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm.html", &view{Title: "Stop forwarding " + ops.address, Nav: ops.navOf("forwarding"), Form: newForm(nil),
		D: confirmData{Action: ops.base + "/forwarding/delete", What: ops.address, Button: "Stop forwarding", Cancel: ops.base + "/forwarding",
			Says: []string{"Mail to " + ops.address + " will no longer be forwarded to " + joinComma(fw.Destinations) +
				"; it stays in the mailbox."}}})
}

func (h *Handler) vacationDeleteConfirm(w http.ResponseWriter, r *http.Request, ops replyOps) {
	v, err := ops.getV(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm.html", &view{Title: "Remove the vacation reply of " + ops.address, Nav: ops.navOf("vacation"), Form: newForm(nil),
		D: confirmData{Action: ops.base + "/vacation/delete", What: ops.address, Button: "Remove vacation reply", Cancel: ops.base + "/vacation",
			Says: []string{"The vacation reply \u201c" + v.Subject + "\u201d and its text will be deleted; senders get no automatic answer any more."}}})
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
