package auth

import (
	"context"
	"sort"
	"sync"
	"time"

	"mailhost/store"
)

// MemoryThrottleStore is a ThrottleStore in one process's memory, for
// tests and for an Authenticator without a database. Its tables are
// bounded: beyond maxEntries records, those that no longer matter go, then
// the oldest.
type MemoryThrottleStore struct {
	mu      sync.Mutex
	records map[string]store.ThrottleRecord
	known   map[[2]string]time.Time
}

var _ ThrottleStore = (*MemoryThrottleStore)(nil)

// NewMemoryThrottleStore returns an empty MemoryThrottleStore.
func NewMemoryThrottleStore() *MemoryThrottleStore {
	return &MemoryThrottleStore{records: map[string]store.ThrottleRecord{}, known: map[[2]string]time.Time{}}
}

// LoginThrottle implements ThrottleStore.
func (m *MemoryThrottleStore) LoginThrottle(_ context.Context, keys []string, account, client string, knownSince time.Time) (map[string]store.ThrottleRecord, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]store.ThrottleRecord{}
	for _, k := range keys {
		if r, ok := m.records[k]; ok {
			out[k] = r
		}
	}
	t := m.known[[2]string{account, client}]
	if t.Before(knownSince) {
		t = time.Time{}
	}
	return out, t, nil
}

// UpdateLoginThrottle implements ThrottleStore.
func (m *MemoryThrottleStore) UpdateLoginThrottle(_ context.Context, keys []string, update func(store.ThrottleRecord) store.ThrottleRecord) (map[string]store.ThrottleRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]store.ThrottleRecord{}
	for _, k := range keys {
		cur, ok := m.records[k]
		if !ok {
			cur = store.ThrottleRecord{Key: k}
		}
		next := update(cur)
		next.Key = k
		if next.Failures == 0 && next.BlockedUntil.IsZero() {
			delete(m.records, k)
		} else {
			if !ok && len(m.records) >= maxEntries {
				m.evict(next.LastFailure)
			}
			m.records[k] = next
		}
		out[k] = next
	}
	return out, nil
}

// evict makes room: records without a running block first, oldest first.
func (m *MemoryThrottleStore) evict(now time.Time) {
	list := make([]store.ThrottleRecord, 0, len(m.records))
	for _, r := range m.records {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool {
		bi, bj := list[i].BlockedUntil.After(now), list[j].BlockedUntil.After(now)
		if bi != bj {
			return !bi
		}
		return list[i].LastFailure.Before(list[j].LastFailure)
	})
	for _, r := range list[:len(list)/10+1] {
		delete(m.records, r.Key)
	}
}

// LoginSucceeded implements ThrottleStore.
func (m *MemoryThrottleStore) LoginSucceeded(_ context.Context, key, account, client string, now, forgetBefore time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.records[key]; ok {
		if r.BlockedUntil.After(now) {
			r.Failures = 0
			m.records[key] = r
		} else {
			delete(m.records, key)
		}
	}
	if client == "" {
		return nil
	}
	if len(m.known) >= maxEntries {
		for k, t := range m.known {
			if t.Before(forgetBefore) {
				delete(m.known, k)
			}
		}
		if len(m.known) >= maxEntries {
			clear(m.known)
		}
	}
	m.known[[2]string{account, client}] = now
	return nil
}

// PruneLoginThrottle implements ThrottleStore.
func (m *MemoryThrottleStore) PruneLoginThrottle(_ context.Context, now, forgetBefore time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, r := range m.records {
		if r.LastFailure.Before(forgetBefore) && !r.BlockedUntil.After(now) {
			delete(m.records, k)
		}
	}
	return nil
}

// LoginBlocks implements ThrottleStore.
func (m *MemoryThrottleStore) LoginBlocks(_ context.Context, now time.Time) ([]store.ThrottleRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.ThrottleRecord
	for _, r := range m.records {
		if r.BlockedUntil.After(now) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].BlockedUntil.Before(out[j].BlockedUntil) })
	return out, nil
}

// Unblock removes the records of keys, as `mailhost auth unblock` does in
// PostgreSQL.
func (m *MemoryThrottleStore) Unblock(keys ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.records, k)
	}
}
