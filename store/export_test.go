package store

// SetTombstones sets how many expunge tombstones a folder keeps at least,
// so a test can see pruning without expunging thousands of messages.
func SetTombstones(s *Store, n int64) { s.tombstones = n }
