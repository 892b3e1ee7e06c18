package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mailhost/admin"
)

// The mail queue's pages (mailq, postcat, postqueue -f, postsuper
// -h/-H/-d). The admin service lets only super-admins see or touch the
// queue; its refusal is answered 404 here, as the panel answers for
// anything a user may not see.

// queueListMax is how many messages the list shows; the service has
// filters but no pages, so the oldest are shown and the rest counted out.
const queueListMax = 500

// queueFail answers an error of the queue service: Forbidden is 404.
func (h *Handler) queueFail(w http.ResponseWriter, r *http.Request, err error) {
	if admin.KindOf(err) == admin.Forbidden {
		h.notFound(w, r)
		return
	}
	h.fail(w, r, err)
}

// queueID reads the {id} parameter: a message's queue id or, as before
// migration 0019, one of its row numbers.
func queueID(r *http.Request) (string, error) {
	id := param(r, "id")
	if id == "" {
		return "", &admin.Error{Kind: admin.NotFound, Detail: "no such queued message"}
	}
	return id, nil
}

func queuePath(id string) string { return "/queue/" + url.PathEscape(id) }

type queuePage struct {
	Items   []admin.QueueEntry
	More    bool // more than queueListMax matched
	Max     int
	Summary admin.QueueSummary
	Back    string // this list with its filters, for the forms' "back"
	Filter  bool
}

func (h *Handler) queueList(w http.ResponseWriter, r *http.Request) {
	a := current(r).Actor
	q := r.URL.Query()
	f := newForm(nil)
	for _, k := range []string{"state", "domain"} {
		f.Values.Set(k, strings.TrimSpace(q.Get(k)))
	}
	sum, err := h.svc.QueueSummary(r.Context(), a)
	if err != nil {
		h.queueFail(w, r, err)
		return
	}
	l, err := h.svc.Queue(r.Context(), a, admin.QueueParams{State: f.Get("state"), Domain: f.Get("domain"), Limit: queueListMax + 1})
	if err != nil && !f.fail(err) {
		h.queueFail(w, r, err)
		return
	}
	p := queuePage{Items: l.Items, Max: queueListMax, Summary: sum, Back: "/queue", Filter: f.Get("state") != "" || f.Get("domain") != ""}
	if len(p.Items) > queueListMax {
		p.Items, p.More = p.Items[:queueListMax], true
	}
	if p.Filter {
		p.Back = "/queue?" + f.Values.Encode()
	}
	status := http.StatusOK
	if f.Has() {
		status = f.Status()
	}
	h.render(w, r, status, "queue.html", &view{Title: "Mail queue", Nav: "queue", Form: f, D: p})
}

type queueMessagePage struct {
	M        admin.QueueMessageView
	Path     string
	WithBody bool
}

func (h *Handler) queueShow(w http.ResponseWriter, r *http.Request) {
	id, err := queueID(r)
	if err != nil {
		h.notFound(w, r)
		return
	}
	body := r.URL.Query().Get("body") != ""
	m, err := h.svc.QueueMessage(r.Context(), current(r).Actor, id, body)
	if err != nil {
		h.queueFail(w, r, err)
		return
	}
	// The message's bytes need not be UTF-8; the page must be.
	m.Header, m.Body = strings.ToValidUTF8(m.Header, "\uFFFD"), strings.ToValidUTF8(m.Body, "\uFFFD")
	h.render(w, r, http.StatusOK, "queue_message.html", &view{Title: "Queued message " + m.ID, Nav: "queue",
		D: queueMessagePage{M: m, Path: queuePath(m.ID), WithBody: body}})
}

// queueFlush makes waiting recipients due now: of the form's domain, or
// all of them.
func (h *Handler) queueFlush(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	if _, ok := f.Values["domain"]; ok && f.Get("domain") == "" {
		h.errorPage(w, r, http.StatusUnprocessableEntity, "Nothing flushed", "Give a recipient domain to flush, or use Flush all.")
		return
	}
	if _, err := h.svc.FlushQueue(r.Context(), current(r).Actor, admin.QueueFlushInput{Domain: f.Get("domain")}); err != nil {
		h.queueFail(w, r, err)
		return
	}
	redirect(w, r, withDone(back(f, "/queue"), "flushed"))
}

func (h *Handler) queueFlushOne(w http.ResponseWriter, r *http.Request) {
	id, err := queueID(r)
	if err != nil {
		h.notFound(w, r)
		return
	}
	f := newForm(r)
	if _, err := h.svc.FlushQueue(r.Context(), current(r).Actor, admin.QueueFlushInput{ID: id}); err != nil {
		h.queueFail(w, r, err)
		return
	}
	redirect(w, r, withDone(back(f, queuePath(id)), "flushed"))
}

func (h *Handler) queueHold(w http.ResponseWriter, r *http.Request)    { h.queueSetHold(w, r, true) }
func (h *Handler) queueRelease(w http.ResponseWriter, r *http.Request) { h.queueSetHold(w, r, false) }

func (h *Handler) queueSetHold(w http.ResponseWriter, r *http.Request, hold bool) {
	id, err := queueID(r)
	if err != nil {
		h.notFound(w, r)
		return
	}
	f := newForm(r)
	if err := h.svc.HoldQueue(r.Context(), current(r).Actor, id, hold); err != nil {
		h.queueFail(w, r, err)
		return
	}
	done := "held"
	if !hold {
		done = "released"
	}
	redirect(w, r, withDone(back(f, queuePath(id)), done))
}

// queueConfirm says what deleting m does, as the service's DeleteQueued
// does it: the rows go, no DSN is queued.
func queueConfirm(m admin.QueueMessageView) confirmData {
	id := m.ID
	sender := "<" + m.Sender + ">"
	if m.Sender == "" {
		sender = "the null sender <> (a bounce or notice)"
	}
	var waiting []string
	for _, c := range append([]admin.QueueEntry{m.QueueEntry}, m.Copies...) {
		for _, rc := range c.Recipients {
			if rc.State == "queued" || rc.State == "deferred" {
				waiting = append(waiting, rc.Address)
			}
		}
	}
	says := []string{"Message " + id + " from " + sender + " will be removed from the queue with its copy of the mail."}
	if len(m.Copies) > 0 {
		says[0] = "Message " + id + " from " + sender + " will be removed from the queue with its " +
			strconv.Itoa(len(m.Copies)+1) + " copies of the mail (a forwarded copy has a sender of its own)."
	}
	if len(waiting) > 0 {
		says = append(says, "It will never be delivered to the recipients still waiting: "+joinComma(waiting)+".")
	}
	says = append(says, "No bounce or other notice is sent to the sender; nobody is told. This cannot be undone.",
		"A delivery attempt already under way at this moment may still finish. To stop further attempts but keep the message, hold it instead.")
	return confirmData{Action: queuePath(m.ID) + "/delete", What: "message " + id, Button: "Delete message",
		Cancel: queuePath(m.ID), Says: says}
}

func (h *Handler) queueDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	id, err := queueID(r)
	if err != nil {
		h.notFound(w, r)
		return
	}
	m, err := h.svc.QueueMessage(r.Context(), current(r).Actor, id, false)
	if err != nil {
		h.queueFail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm.html", &view{Title: "Delete queued message " + m.ID, Nav: "queue",
		Form: newForm(nil), D: queueConfirm(m)})
}

func (h *Handler) queueDelete(w http.ResponseWriter, r *http.Request) {
	id, err := queueID(r)
	if err != nil {
		h.notFound(w, r)
		return
	}
	if err := h.svc.DeleteQueued(r.Context(), current(r).Actor, id); err != nil {
		h.queueFail(w, r, err)
		return
	}
	redirect(w, r, "/queue?done=deleted")
}
