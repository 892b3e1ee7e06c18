package admin

import (
	"context"
	"errors"
	"strings"
	"time"

	"mailhost/store"
)

// The outbound queue's tools (mailq, postqueue, postsuper, postcat) for
// the CLI, the API and the web panel. The queue holds every domain's
// mail and its senders' and recipients' addresses, so only super-admins
// see or touch it.
//
// A message is named by its queue id, the id of its 250 reply, Received
// field and mail log lines (store.NewQueueID); a row number (the tools'
// ids before migration 0019) names the message of that row. A message
// may have several queue rows, its copies (a forwarded copy with its own
// sender): they share the id, are listed each on its own, and are shown,
// held, released, flushed and deleted together.

// QueueParams filter the queue list.
type QueueParams struct {
	Domain string // a recipient domain
	State  string // "", "queued", "deferred" or "hold"
	Limit  int    // 0 = all
}

// QueueEntry is a queued message, or one copy of it, with its recipients'
// states (mailq). Copies share ID and differ in Row.
type QueueEntry struct {
	ID         string           `json:"id"`
	Row        int64            `json:"row"`
	Size       int64            `json:"size"`
	Arrival    time.Time        `json:"arrival"`
	Sender     string           `json:"sender"`
	Origin     string           `json:"origin"`
	AuthUser   string           `json:"auth_user,omitempty"`
	Hold       bool             `json:"hold"`
	Expires    time.Time        `json:"expires"`
	Recipients []QueueRecipient `json:"recipients"`
}

// QueueRecipient is one recipient of a queued message with its state.
type QueueRecipient struct {
	Address     string     `json:"address"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	NextAttempt time.Time  `json:"next_attempt"`
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

func queueEntry(e store.QueueEntry) QueueEntry {
	v := QueueEntry{ID: e.ID, Row: e.Row, Size: e.Size, Arrival: e.Arrival, Sender: e.Sender, Origin: e.Origin,
		AuthUser: e.AuthUser, Hold: e.Hold, Expires: e.Expires, Recipients: make([]QueueRecipient, len(e.Recipients))}
	for i, r := range e.Recipients {
		v.Recipients[i] = QueueRecipient{Address: r.Address, State: r.State, Attempts: r.Attempts,
			NextAttempt: r.NextAttempt, LastAttempt: r.LastAttempt, LastError: r.LastError}
	}
	return v
}

// QueueMessageView is one queued message: its first copy with its header
// (and, asked for, its whole text), then its other copies, if any.
type QueueMessageView struct {
	QueueEntry
	Header string       `json:"header"`
	Body   string       `json:"body,omitempty"`
	Copies []QueueEntry `json:"copies,omitempty"`
}

// QueueFlushInput selects what a flush makes due now: one message, one
// recipient domain, or (neither) everything.
type QueueFlushInput struct {
	ID     string `json:"id,omitempty"`
	Domain string `json:"domain,omitempty"`
}

// QueueCount is how many messages or recipients an operation touched.
type QueueCount struct {
	Count int64 `json:"count"`
}

func queueAllowed(a Actor) error {
	if !a.Superadmin {
		return newErr(Forbidden, "only a super-admin may see or change the mail queue")
	}
	return nil
}

// auditQueue records a queue operation in the audit log (after it took
// effect; the queue is not provisioning data, so the row is written in
// its own transaction).
func (s *Service) auditQueue(ctx context.Context, a Actor, action, object string, before, after any) {
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		return s.audit(ctx, tx, a, action, "queue", object, "", before, after)
	})
	if err != nil {
		s.log.Error("audit: queue "+action, "object", object, "err", err)
	}
}

func queueNotFound(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return newErr(NotFound, "no queued message %q", id)
	}
	return err
}

// Queue lists queued messages, oldest first.
func (s *Service) Queue(ctx context.Context, a Actor, p QueueParams) (List[QueueEntry], error) {
	if err := queueAllowed(a); err != nil {
		return List[QueueEntry]{}, err
	}
	var f fields
	switch p.State {
	case "", "queued", "deferred", "hold":
	default:
		f.add("state", "must be queued, deferred or hold")
	}
	if err := f.err(); err != nil {
		return List[QueueEntry]{}, err
	}
	rows, err := s.st.QueueList(ctx, store.QueueFilter{Domain: strings.ToLower(p.Domain), State: p.State, Limit: p.Limit})
	if err != nil {
		return List[QueueEntry]{Items: []QueueEntry{}}, err
	}
	out := List[QueueEntry]{Items: make([]QueueEntry, len(rows))}
	for i, e := range rows {
		out.Items[i] = queueEntry(e)
	}
	return out, nil
}

// QueueMessage shows a queued message: its recipients with their state,
// its header, and with body its whole text (postcat).
func (s *Service) QueueMessage(ctx context.Context, a Actor, id string, body bool) (QueueMessageView, error) {
	if err := queueAllowed(a); err != nil {
		return QueueMessageView{}, err
	}
	copies, raw, err := s.st.QueueMessage(ctx, id)
	if err != nil {
		return QueueMessageView{}, queueNotFound(err, id)
	}
	v := QueueMessageView{QueueEntry: queueEntry(copies[0])}
	for _, c := range copies[1:] {
		v.Copies = append(v.Copies, queueEntry(c))
	}
	text := string(raw)
	if i := strings.Index(text, "\r\n\r\n"); i >= 0 {
		v.Header = text[:i+2]
	} else {
		v.Header = text
	}
	if body {
		v.Body = text
	}
	return v, nil
}

// FlushQueue makes waiting recipients due now (postqueue -f / -i / -s).
func (s *Service) FlushQueue(ctx context.Context, a Actor, in QueueFlushInput) (QueueCount, error) {
	if err := queueAllowed(a); err != nil {
		return QueueCount{}, err
	}
	if in.ID != "" {
		copies, _, err := s.st.QueueMessage(ctx, in.ID)
		if err != nil {
			return QueueCount{}, queueNotFound(err, in.ID)
		}
		in.ID = copies[0].ID
	}
	n, err := s.st.QueueFlush(ctx, in.ID, strings.ToLower(in.Domain))
	if err == nil {
		s.auditQueue(ctx, a, "flush", queueObject(in.ID), in, QueueCount{Count: n})
	}
	return QueueCount{Count: n}, err
}

// HoldQueue puts a message on hold (hold true) or releases it.
func (s *Service) HoldQueue(ctx context.Context, a Actor, id string, hold bool) error {
	if err := queueAllowed(a); err != nil {
		return err
	}
	copies, _, err := s.st.QueueMessage(ctx, id)
	if err != nil {
		return queueNotFound(err, id)
	}
	id = copies[0].ID // the message's queue id, also when named by a row
	if err := s.st.QueueHold(ctx, id, hold); err != nil {
		return queueNotFound(err, id)
	}
	action := "hold"
	if !hold {
		action = "release"
	}
	s.auditQueue(ctx, a, action, queueObject(id), nil, nil)
	return nil
}

// DeleteQueued removes a message from the queue without notice
// (postsuper -d).
func (s *Service) DeleteQueued(ctx context.Context, a Actor, id string) error {
	if err := queueAllowed(a); err != nil {
		return err
	}
	copies, _, err := s.st.QueueMessage(ctx, id)
	if err != nil {
		return queueNotFound(err, id)
	}
	id = copies[0].ID // the message's queue id, also when named by a row
	if err := s.st.QueueDelete(ctx, id); err != nil {
		return queueNotFound(err, id)
	}
	before := make([]QueueEntry, len(copies))
	for i, c := range copies {
		before[i] = queueEntry(c)
	}
	s.auditQueue(ctx, a, "delete", queueObject(id), before, nil)
	return nil
}

// DeleteAllQueued removes every message, or those with a deferred
// recipient (postsuper -d ALL [deferred]).
func (s *Service) DeleteAllQueued(ctx context.Context, a Actor, deferredOnly bool) (QueueCount, error) {
	if err := queueAllowed(a); err != nil {
		return QueueCount{}, err
	}
	n, err := s.st.QueueDeleteAll(ctx, deferredOnly)
	if err == nil {
		obj := "all"
		if deferredOnly {
			obj = "deferred"
		}
		s.auditQueue(ctx, a, "delete", obj, nil, QueueCount{Count: n})
	}
	return QueueCount{Count: n}, err
}

func queueObject(id string) string {
	if id == "" {
		return "all"
	}
	return id
}
