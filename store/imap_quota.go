package store

import "context"

// IMAPQuota is a mailbox's quota root (RFC 9208): its STORAGE resource in
// KiB (units of 1024 octets, usage rounded up) and its MESSAGE resource.
// A limit of 0 means none: a resource without a limit is not reported
// (mailboxes have no message limit, so MESSAGE is never limited today).
type IMAPQuota struct {
	StorageUsed, StorageLimit   int64 // KiB
	MessagesUsed, MessagesLimit int64
}

// IMAPQuota returns a mailbox's quota: its quota_bytes and the usage
// (used_bytes, used_messages) charged in the index's transactions.
func (s *Store) IMAPQuota(ctx context.Context, mailboxID int64) (IMAPQuota, error) {
	var q IMAPQuota
	var limit, used int64
	err := s.pool.QueryRow(ctx, `SELECT quota_bytes, used_bytes, used_messages FROM mailboxes WHERE id = $1`,
		mailboxID).Scan(&limit, &used, &q.MessagesUsed)
	if err != nil {
		return IMAPQuota{}, translate(err, "quota")
	}
	q.StorageUsed = (used + 1023) / 1024
	if limit > 0 {
		q.StorageLimit = max(limit/1024, 1)
	}
	return q, nil
}
