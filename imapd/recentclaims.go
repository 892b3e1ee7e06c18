package imapd

import "sync"

// recentClaims is a node's knowledge of its folders' \Recent claims, so
// that the sessions a new message wakes together do not all queue on the
// folder row to claim it: for each folder, a UID that recent_uid is known
// to have reached in the index (it only grows), and a lock that the
// node's sessions take in turn to claim. The first claims in the index;
// the others find the UIDs their snapshot shows claimed already and skip
// the round trip. Only a hint: the index's compare-and-swap
// (store.IMAPClaimRecentSeen) decides, so a forgotten or stale record
// costs a round trip, never a second \Recent.
type recentClaims struct {
	mu sync.Mutex
	m  map[int64]*recentClaim
}

type recentClaim struct {
	mu      sync.Mutex // held by the session claiming
	claimed uint32     // recent_uid has reached this in the index
}

// recentClaimsMax bounds the record; past it, it starts over (a folder
// forgotten costs its next claim a round trip, nothing more).
const recentClaimsMax = 4096

// claim runs fn, the claim in the index of the UIDs up to upto (UIDNEXT-1
// of the caller's snapshot), unless another session of the node has
// claimed them already; fn returns the range it took (0, 0: none, another
// session took them first, which that session's claim covers). claim
// returns that range.
func (r *recentClaims) claim(folderID int64, upto uint32, fn func() (from, to uint32, err error)) (uint32, uint32, error) {
	r.mu.Lock()
	if r.m == nil || len(r.m) >= recentClaimsMax {
		r.m = map[int64]*recentClaim{}
	}
	c := r.m[folderID]
	if c == nil {
		c = &recentClaim{}
		r.m[folderID] = c
	}
	r.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if upto <= c.claimed {
		return 0, 0, nil
	}
	from, to, err := fn()
	if err == nil {
		c.claimed = max(c.claimed, upto, to)
	}
	return from, to, err
}
