// Package maillog keeps what happened to mail for the dashboard and the
// mail log page: a slog.Handler placed in front of the process's log
// handler picks the mail log lines the servers write anyway (accepted,
// delivered, deferred, bounced, reject, login failures, ...), turns them
// into mail log rows and per-minute counts, and a writer stores them in
// PostgreSQL in batches. The servers know nothing of it: their log lines
// are the contract (ARCHITECTURE.md).
package maillog

import (
	"context"
	"log/slog"
	"slices"
)

// Handler passes every record to the next handler (when that one is
// enabled for it) and gives the mail log lines to the recorder.
type Handler struct {
	next  slog.Handler
	rec   *Recorder
	attrs []slog.Attr
}

// NewHandler wraps next.
func NewHandler(next slog.Handler, rec *Recorder) *Handler {
	return &Handler{next: next, rec: rec}
}

// Enabled is true from Info up even when next logs only warnings: the
// mail log lines are Info records.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

// Handle records a mail log line and passes the record on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if kind, ok := kindOf(r.Message); ok {
		h.rec.observe(kind, r, h.attrs)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs keeps the attributes (a connection's client address, say)
// for the recorder too.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(as), rec: h.rec, attrs: append(slices.Clip(h.attrs), as...)}
}

// WithGroup groups the next handler's attributes; the recorder reads
// attributes by their own names.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), rec: h.rec, attrs: h.attrs}
}

// kind is what a log line means.
type kind int

const (
	accepted kind = iota
	delivered
	deferred
	bounced
	rejected
	queued
	held
	discarded
	notified
	loginFailed
	loginBlocked
)

// kindOf maps the servers' log messages to what they mean.
func kindOf(msg string) (kind, bool) {
	switch msg {
	case "accepted":
		return accepted, true
	case "delivered":
		return delivered, true
	case "deferred":
		return deferred, true
	case "bounced":
		return bounced, true
	case "reject":
		return rejected, true
	case "queued":
		return queued, true
	case "hold":
		return held, true
	case "discarded":
		return discarded, true
	case "sender notified":
		return notified, true
	case "login failed", "auth failed":
		return loginFailed, true
	case "login blocked after too many failures":
		return loginBlocked, true
	}
	return 0, false
}
