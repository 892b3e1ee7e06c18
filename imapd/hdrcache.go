package imapd

import (
	"sync"

	"github.com/emersion/go-message/textproto"
)

// Bounds of a server's header cache: the bytes of the header sections it
// holds, and the largest section it keeps.
const (
	hdrCacheBytes    = 16 << 20
	hdrCacheMaxEntry = 64 << 10
)

// hdrKey names a message file's content: a file's key within its folder
// never names other bytes (Maildir files are not rewritten; flag changes
// rename, keeping the key), and the UID tells a file adopted again under
// the same key apart.
type hdrKey struct {
	folder int64
	uid    uint32
	key    string
}

// hdrCache keeps the parsed top-level headers of message files, shared by
// a server's sessions: ENVELOPE, HEADER.FIELDS and header SEARCH keys of
// a message already read are answered without opening and parsing its
// file again. It is bounded by two generations: lookups hit either, new
// entries go to the current one, and when that holds half the budget it
// becomes the old one and the old one is dropped. The headers are shared:
// their users only read them (headerFields copies before deleting).
type hdrCache struct {
	mu       sync.Mutex
	cur, old map[hdrKey]cachedHdr
	curBytes int
}

type cachedHdr struct {
	h    *textproto.Header
	size int
}

func newHdrCache() *hdrCache {
	return &hdrCache{cur: map[hdrKey]cachedHdr{}}
}

// get returns the cached header of k, nil if none.
func (c *hdrCache) get(k hdrKey) *textproto.Header {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.cur[k]; ok {
		return e.h
	}
	e, ok := c.old[k]
	if !ok {
		return nil
	}
	delete(c.old, k) // still in use: keep it through the next switch
	c.addLocked(k, e)
	return e.h
}

// put caches h, the header of k whose section is size bytes long.
func (c *hdrCache) put(k hdrKey, h *textproto.Header, size int) {
	if c == nil || size > hdrCacheMaxEntry {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[k]; !ok {
		c.addLocked(k, cachedHdr{h: h, size: size})
	}
}

func (c *hdrCache) addLocked(k hdrKey, e cachedHdr) {
	if c.curBytes+e.size > hdrCacheBytes/2 {
		c.old, c.cur, c.curBytes = c.cur, map[hdrKey]cachedHdr{}, 0
	}
	c.cur[k] = e
	c.curBytes += e.size
}
