package admin

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"mailhost/store"
)

// The outbound queue's tools (mailq, postqueue, postsuper, postcat) for
// the CLI, the API and the web panel. The queue holds every domain's
// mail and its senders' and recipients' addresses, so only super-admins
// see or touch it.

// QueueParams filter the queue list.
type QueueParams struct {
	Domain string // a recipient domain
	State  string // "", "queued", "deferred" or "hold"
	Limit  int    // 0 = all
}

// QueueEntry is a queued message with its recipients' states (mailq).
type QueueEntry struct {
	ID         int64            `json:"id"`
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
	v := QueueEntry{ID: e.ID, Size: e.Size, Arrival: e.Arrival, Sender: e.Sender, Origin: e.Origin,
		AuthUser: e.AuthUser, Hold: e.Hold, Expires: e.Expires, Recipients: make([]QueueRecipient, len(e.Recipients))}
	for i, r := range e.Recipients {
		v.Recipients[i] = QueueRecipient{Address: r.Address, State: r.State, Attempts: r.Attempts,
			NextAttempt: r.NextAttempt, LastAttempt: r.LastAttempt, LastError: r.LastError}
	}
	return v
}

// QueueMessageView is one queued message; Body only when asked for.
type QueueMessageView struct {
	QueueEntry
	Header string `json:"header"`
	Body   string `json:"body,omitempty"`
}

// QueueFlushInput selects what a flush makes due now: one message, one
// recipient domain, or (neither) everything.
type QueueFlushInput struct {
	ID     int64  `json:"id,omitempty"`
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

func queueNotFound(err error, id int64) error {
	if errors.Is(err, store.ErrNotFound) {
		return newErr(NotFound, "no queued message %d", id)
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
func (s *Service) QueueMessage(ctx context.Context, a Actor, id int64, body bool) (QueueMessageView, error) {
	if err := queueAllowed(a); err != nil {
		return QueueMessageView{}, err
	}
	e, raw, err := s.st.QueueMessage(ctx, id)
	if err != nil {
		return QueueMessageView{}, queueNotFound(err, id)
	}
	v := QueueMessageView{QueueEntry: queueEntry(e)}
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
	if in.ID > 0 {
		if _, _, err := s.st.QueueMessage(ctx, in.ID); err != nil {
			return QueueCount{}, queueNotFound(err, in.ID)
		}
	}
	n, err := s.st.QueueFlush(ctx, in.ID, strings.ToLower(in.Domain))
	if err == nil {
		s.auditQueue(ctx, a, "flush", queueObject(in.ID), in, QueueCount{Count: n})
	}
	return QueueCount{Count: n}, err
}

// HoldQueue puts a message on hold (hold true) or releases it.
func (s *Service) HoldQueue(ctx context.Context, a Actor, id int64, hold bool) error {
	if err := queueAllowed(a); err != nil {
		return err
	}
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
func (s *Service) DeleteQueued(ctx context.Context, a Actor, id int64) error {
	if err := queueAllowed(a); err != nil {
		return err
	}
	before, _, err := s.st.QueueMessage(ctx, id)
	if err != nil {
		return queueNotFound(err, id)
	}
	if err := s.st.QueueDelete(ctx, id); err != nil {
		return queueNotFound(err, id)
	}
	s.auditQueue(ctx, a, "delete", queueObject(id), queueEntry(before), nil)
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

func queueObject(id int64) string {
	if id == 0 {
		return "all"
	}
	return strconv.FormatInt(id, 10)
}
