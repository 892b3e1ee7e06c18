package admin

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"mailhost/address"
	"mailhost/store"
)

// AuditParams filter the audit log; empty fields do not filter.
type AuditParams struct {
	Actor      string
	Action     string
	ObjectType string
	Object     string
	Domain     string
	Since      *time.Time
	Until      *time.Time
	Cursor     string
	Limit      int
}

// AuditView is one audit log entry.
type AuditView struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	ActorKind  string          `json:"actor_kind"`
	RemoteAddr string          `json:"remote_addr"`
	Action     string          `json:"action"`
	ObjectType string          `json:"object_type"`
	Object     string          `json:"object"`
	Domain     string          `json:"domain"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
}

func auditView(e store.AuditEntry) AuditView {
	v := AuditView{ID: e.ID, At: e.At, Actor: e.Actor, ActorKind: e.ActorKind, RemoteAddr: e.RemoteAddr,
		Action: e.Action, ObjectType: e.ObjectType, Object: e.Object, Domain: e.Domain, Before: e.Before, After: e.After}
	if v.Before == nil {
		v.Before = json.RawMessage("null")
	}
	if v.After == nil {
		v.After = json.RawMessage("null")
	}
	return v
}

// AuditLog lists audit entries, newest first: a super-admin sees all, a
// domain admin the entries of its domains.
func (s *Service) AuditLog(ctx context.Context, a Actor, p AuditParams) (List[AuditView], error) {
	var f fields
	if p.Limit < 0 || p.Limit > MaxLimit {
		f.add("limit", "must be from 1 to %d", MaxLimit)
	}
	before := int64(0)
	if p.Cursor != "" {
		k, err := store.DecodeCursor(p.Cursor)
		if err == nil {
			before, err = strconv.ParseInt(k, 10, 64)
		}
		if err != nil {
			f.add("cursor", "is not a cursor of this list")
		}
	}
	dom := p.Domain
	if dom != "" {
		if n, err := address.Domain(dom); err == nil {
			dom = n
		}
	}
	if err := f.err(); err != nil {
		return List[AuditView]{}, err
	}
	limit := p.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	tx := s.st.Read()
	filter := store.AuditFilter{Actor: p.Actor, Action: p.Action, ObjectType: p.ObjectType, Object: p.Object,
		Domain: dom, Since: p.Since, Until: p.Until, Before: before, Limit: limit + 1}
	if !a.Superadmin {
		names, err := tx.DomainNames(ctx, a.DomainIDs)
		if err != nil {
			return List[AuditView]{}, err
		}
		filter.Domains = append([]string{}, names...)
	}
	rows, err := tx.ListAudit(ctx, filter)
	if err != nil {
		return List[AuditView]{}, err
	}
	return finish(rows, limit, func(e store.AuditEntry) string { return strconv.FormatInt(e.ID, 10) }, auditView), nil
}
