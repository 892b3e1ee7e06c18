package imapd

import (
	"sync"

	"github.com/emersion/go-message/textproto"

	"mailhost/imapwire"
)

// Bounds of a server's caches of what message files hold: the bytes each
// may hold (about), and the largest entry it keeps.
const (
	hdrCacheBytes    = 16 << 20
	bsCacheBytes     = 8 << 20
	envCacheBytes    = 4 << 20
	fileCacheMaxItem = 64 << 10
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

// msgCaches are a server's caches of parsed message files, shared by its
// sessions: ENVELOPE, HEADER.FIELDS and header SEARCH keys of a message
// read before are answered from the parsed header, BODY and BODYSTRUCTURE
// from the computed structure, without opening and parsing the file again;
// ENVELOPE from the envelope built once from the header (parsing its
// address fields again for every FETCH cost more than the rest of it).
// The values are shared read-only (headerFields writes the fields it
// picks without changing the header; the encoder only reads structures
// and envelopes).
type msgCaches struct {
	hdrs    *fileCache[hdrKey, *textproto.Header]
	structs *fileCache[hdrKey, *imapwire.BodyStructure]
	envs    *fileCache[hdrKey, *imapwire.Envelope]
	rows    *fileCache[rowKey, rowInfo] // rowcache.go
}

func newMsgCaches() *msgCaches {
	return &msgCaches{hdrs: newFileCache[hdrKey, *textproto.Header](hdrCacheBytes),
		structs: newFileCache[hdrKey, *imapwire.BodyStructure](bsCacheBytes),
		envs:    newFileCache[hdrKey, *imapwire.Envelope](envCacheBytes),
		rows:    newFileCache[rowKey, rowInfo](rowCacheBytes)}
}

// fileCache is bounded by two generations: lookups hit either, new
// entries go to the current one, and when that holds half the budget it
// becomes the old one and the old one is dropped.
type fileCache[K comparable, V any] struct {
	mu       sync.Mutex
	cur, old map[K]cached[V]
	curBytes int
	budget   int
}

type cached[V any] struct {
	v    V
	size int
}

func newFileCache[K comparable, V any](budget int) *fileCache[K, V] {
	return &fileCache[K, V]{cur: map[K]cached[V]{}, budget: budget}
}

// get returns the cached value of k.
func (c *fileCache[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.cur[k]; ok {
		return e.v, true
	}
	e, ok := c.old[k]
	if !ok {
		return e.v, false
	}
	delete(c.old, k) // still in use: keep it through the next switch
	c.addLocked(k, e)
	return e.v, true
}

// put caches v, the value of k costing size bytes.
func (c *fileCache[K, V]) put(k K, v V, size int) {
	if size > fileCacheMaxItem {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[k]; !ok {
		c.addLocked(k, cached[V]{v: v, size: size})
	}
}

func (c *fileCache[K, V]) addLocked(k K, e cached[V]) {
	if c.curBytes+e.size > c.budget/2 {
		c.old, c.cur, c.curBytes = c.cur, map[K]cached[V]{}, 0
	}
	c.cur[k] = e
	c.curBytes += e.size
}

// structCost estimates the memory a body structure holds.
func structCost(bs *imapwire.BodyStructure) int {
	if bs == nil {
		return 0
	}
	n := 256 + len(bs.Type) + len(bs.Subtype) + len(bs.ID) + len(bs.Description) + len(bs.MD5) + len(bs.Location)
	for _, p := range bs.Params {
		n += 16 + len(p)
	}
	for _, p := range bs.DispositionParams {
		n += 16 + len(p)
	}
	if bs.Envelope != nil {
		n += envCost(bs.Envelope)
	}
	n += structCost(bs.Inner)
	for _, c := range bs.Children {
		n += structCost(c)
	}
	return n
}

// envCost estimates the memory an envelope holds.
func envCost(env *imapwire.Envelope) int {
	n := 160 + len(env.Date) + len(env.Subject) + len(env.InReplyTo) + len(env.MessageID)
	for _, l := range [][]imapwire.Address{env.From, env.Sender, env.ReplyTo, env.To, env.Cc, env.Bcc} {
		for _, a := range l {
			n += 64 + len(a.Name) + len(a.Route) + len(a.Mailbox) + len(a.Host)
		}
	}
	return n
}

// replace caches v as k's value whether or not k had one.
func (c *fileCache[K, V]) replace(k K, v V, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.cur[k]; ok {
		c.curBytes -= e.size
		delete(c.cur, k)
	}
	delete(c.old, k)
	if size <= fileCacheMaxItem {
		c.addLocked(k, cached[V]{v: v, size: size})
	}
}
