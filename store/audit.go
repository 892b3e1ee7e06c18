package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditEntry is a row of audit_log.
type AuditEntry struct {
	ID         int64
	At         time.Time
	Actor      string
	ActorKind  string
	AdminID    *int64
	TokenID    *int64
	RemoteAddr string
	Action     string
	ObjectType string
	Object     string
	Domain     string
	Before     json.RawMessage
	After      json.RawMessage
}

// InsertAudit writes one audit row, in the transaction of the change.
func (t *Tx) InsertAudit(ctx context.Context, e AuditEntry) error {
	_, err := t.q.Exec(ctx, `
		INSERT INTO audit_log (actor, actor_kind, admin_id, token_id, remote_addr, action, object_type, object, domain, before, after)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.Actor, e.ActorKind, e.AdminID, e.TokenID, e.RemoteAddr, e.Action, e.ObjectType, e.Object, e.Domain,
		nullJSON(e.Before), nullJSON(e.After))
	return translate(err, "insert audit")
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// AuditFilter selects audit rows; empty fields do not filter.
type AuditFilter struct {
	Domains    []string // only these domains; nil means all
	Actor      string
	Action     string
	ObjectType string
	Object     string
	Domain     string
	Since      *time.Time
	Until      *time.Time
	Before     int64 // the last id of the previous page (newest first); 0 for the first
	Limit      int
}

// ListAudit returns audit rows, newest first.
func (t *Tx) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var doms any
	if f.Domains != nil {
		doms = f.Domains
	}
	rows, err := t.q.Query(ctx, `
		SELECT id, at, actor, actor_kind, admin_id, token_id, remote_addr, action, object_type, object, domain, before, after
		FROM audit_log
		WHERE ($1::text[] IS NULL OR domain = ANY ($1))
		  AND ($2 = '' OR actor = $2) AND ($3 = '' OR action = $3) AND ($4 = '' OR object_type = $4)
		  AND ($5 = '' OR object = $5) AND ($6 = '' OR domain = $6)
		  AND ($7::timestamptz IS NULL OR at >= $7) AND ($8::timestamptz IS NULL OR at < $8)
		  AND ($9 = 0 OR id < $9)
		ORDER BY id DESC LIMIT $10`, customPlan,
		doms, f.Actor, f.Action, f.ObjectType, f.Object, f.Domain, f.Since, f.Until, f.Before, f.Limit)
	if err != nil {
		return nil, translate(err, "list audit")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[AuditEntry])
	return out, translate(err, "list audit")
}
