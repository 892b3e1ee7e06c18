package mta

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Outbound connection reuse, as Postfix's SMTP connection cache
// (smtp_connection_cache_on_demand): a connection whose transaction ended
// cleanly waits idle for the next message to the same destination, which
// then skips the connect, the greeting, EHLO, STARTTLS and AUTH.
//
// A connection serves only a message that would have set it up the same
// way (connKey): the same destination, address and host name, the same
// TLS check (policy, DANE records, MTA-STS), the same relay host login
// and EHLO name. So a connection made under "may" never carries a message
// that needs "verify", and a message never goes to a host its own MX
// lookup and checks would not have chosen.
//
// A cached connection is in the state after a completed transaction: the
// reply to the message's end, or an RSET answered 250 when every
// recipient was refused. The next transaction begins with MAIL, no RSET:
// the reply to the end of the data ends the transaction and clears the
// server's buffers (RFC 5321 4.1.1.4), and MAIL begins a new one (RFC
// 5321 3.3), so an RSET (4.1.1.5) would only cost a round trip.
//
// A connection the peer closed while idle, or answered with 421, is
// noticed before use (quiet: input or a FIN waiting on an idle socket) or
// at MAIL, its first command (gone: EOF, reset, timeout, 421); then
// nothing was sent and the message goes over a new connection, the stale
// one not counted as a failed attempt. Nothing after MAIL's 250 is
// retried: from there today's semantics apply, so no message is sent
// twice because of the cache.
//
// Counting: each delivery in progress holds one slot of its destination
// (destSlot) and at most one connection. Before a new connection is
// opened, idle ones to that destination are closed until the deliveries
// in progress and the idle connections fit DestConcurrency (makeRoom), so
// a peer that limits connections per client sees at most that many from
// this node.

// ConnCacheConfig limits the reuse of outbound connections, as Postfix's
// smtp_connection_cache_time_limit, smtp_connection_reuse_time_limit and
// smtp_connection_reuse_count_limit.
type ConnCacheConfig struct {
	Off      bool          // every message on a connection of its own
	IdleTime time.Duration // an idle connection is closed after this (2 s)
	MaxAge   time.Duration // a connection this old is not reused (300 s)
	MaxUses  int           // transactions per connection (100)
	PerDest  int           // idle connections per destination (20)
	Total    int           // idle connections of the node (100)
}

func (c *ConnCacheConfig) defaults() {
	if c.IdleTime <= 0 {
		c.IdleTime = 2 * time.Second
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 300 * time.Second
	}
	if c.MaxUses <= 0 {
		c.MaxUses = 100
	}
	if c.PerDest <= 0 {
		c.PerDest = 20
	}
	if c.Total <= 0 {
		c.Total = 100
	}
}

// connKey is everything that decided how a connection was set up.
type connKey struct {
	dest string // the route's host: whose slots (destSlot) count it
	addr string // IP:port connected to
	host string // the host name it was made for (certificate name, TLS reports)
	tls  string // the TLS check it passed (tlsCheck.key)
	auth string // the relay host user it logged in as; "": none
	ehlo string
}

// connKey is the key of a connection to addr of host on rt under check.
func (o *Outbound) connKey(rt route, host, addr string, check tlsCheck) connKey {
	k := connKey{dest: rt.host, addr: addr, host: host, tls: check.key(), ehlo: o.cfg.Hostname}
	if rt.auth {
		k.auth = o.cfg.RelayUser
	}
	return k
}

// key tells checks apart: equal keys ask the same of a connection.
func (c tlsCheck) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%t %t %t %t %q %q %q", c.starttls, c.require, c.pkix, c.report, c.domain, c.rpt, c.label)
	for _, t := range c.tlsa {
		fmt.Fprintf(&b, " %d/%d/%d/%x", t.Usage, t.Selector, t.MatchingType, t.Data)
	}
	return b.String()
}

// connCache holds a node's idle outbound connections.
type connCache struct {
	cfg    ConnCacheConfig
	mu     sync.Mutex
	idle   map[connKey][]*outConn // oldest first
	dests  map[string]int         // idle connections per destination
	n      int                    // idle connections in all
	closed bool                   // shutting down: nothing is cached
}

func newConnCache(cfg ConnCacheConfig) *connCache {
	cfg.defaults()
	return &connCache{cfg: cfg, idle: map[connKey][]*outConn{}, dests: map[string]int{}}
}

// take returns an idle connection for key, the most recently used first
// (so that surplus ones reach their idle limit), or nil.
func (cc *connCache) take(key connKey) *outConn {
	for {
		cc.mu.Lock()
		l := cc.idle[key]
		if len(l) == 0 {
			cc.mu.Unlock()
			return nil
		}
		c := l[len(l)-1]
		cc.removeLocked(c)
		cc.mu.Unlock()
		c.timer.Stop() // if it fired already, its removal finds nothing
		if c.quiet() {
			return c
		}
		c.conn.Close() // the peer closed it or is closing it
	}
}

// quiet says whether c, idle, has no input waiting and no FIN: a server
// that sends something unasked is closing the connection (421).
func (c *outConn) quiet() bool {
	if c.text.R.Buffered() > 0 {
		return false
	}
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	return err == nil && quiet(rc)
}

// release ends a transaction's use of c: back into the cache when keep
// (the transaction ended cleanly) and the limits allow, else closed (with
// QUIT when the session is still sound).
func (cc *connCache) release(c *outConn, keep bool) {
	switch {
	case !keep:
		c.close()
	case !c.detach(): // the attempt ended (shutdown): closed already
		c.conn.Close()
	case !cc.add(c):
		c.quit()
	}
}

// add caches c if the limits allow.
func (cc *connCache) add(c *outConn) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed || cc.cfg.Off || c.uses >= cc.cfg.MaxUses || time.Since(c.born) >= cc.cfg.MaxAge ||
		cc.dests[c.key.dest] >= cc.cfg.PerDest || cc.n >= cc.cfg.Total {
		return false
	}
	c.since = time.Now()
	cc.idle[c.key] = append(cc.idle[c.key], c)
	cc.dests[c.key.dest]++
	cc.n++
	c.timer = time.AfterFunc(cc.cfg.IdleTime, func() {
		cc.mu.Lock()
		found := cc.removeLocked(c)
		cc.mu.Unlock()
		if found {
			c.quit()
		}
	})
	return true
}

// removeLocked takes c out of the cache; false: it was not there.
func (cc *connCache) removeLocked(c *outConn) bool {
	l := cc.idle[c.key]
	for i, x := range l {
		if x != c {
			continue
		}
		if len(l) == 1 {
			delete(cc.idle, c.key)
		} else {
			cc.idle[c.key] = append(l[:i:i], l[i+1:]...)
		}
		if cc.dests[c.key.dest]--; cc.dests[c.key.dest] == 0 {
			delete(cc.dests, c.key.dest)
		}
		cc.n--
		return true
	}
	return false
}

// trim closes the oldest idle connections to dest until at most keep are
// left.
func (cc *connCache) trim(dest string, keep int) {
	var out []*outConn
	cc.mu.Lock()
	for cc.dests[dest] > max(keep, 0) {
		var oldest *outConn
		for k, l := range cc.idle {
			if k.dest == dest && (oldest == nil || l[0].since.Before(oldest.since)) {
				oldest = l[0]
			}
		}
		cc.removeLocked(oldest)
		out = append(out, oldest)
	}
	cc.mu.Unlock()
	// Waited for: the peer sees them closed before the connection that
	// needed the room (its limit per client), and RFC 5321 4.1.1.10 wants
	// the client to wait for QUIT's reply.
	quitAll(out)
}

// closeAll closes the idle connections with QUIT and caches no more
// (shutdown).
func (cc *connCache) closeAll() {
	var out []*outConn
	cc.mu.Lock()
	cc.closed = true
	for _, l := range cc.idle {
		out = append(out, l...)
	}
	clear(cc.idle)
	clear(cc.dests)
	cc.n = 0
	cc.mu.Unlock()
	quitAll(out)
}

// quitAll says QUIT on idle connections at once and waits for them.
func quitAll(conns []*outConn) {
	var wg sync.WaitGroup
	for _, c := range conns {
		c.timer.Stop()
		wg.Add(1)
		go func() { defer wg.Done(); c.quit() }()
	}
	wg.Wait()
}

// makeRoom closes idle connections to dest so that the deliveries in
// progress there (this one included, each with at most one connection)
// and the idle ones fit DestConcurrency, before this one connects.
func (o *Outbound) makeRoom(dest string) {
	o.destMu.Lock()
	busy := len(o.dest[dest])
	o.destMu.Unlock()
	o.conns.trim(dest, o.cfg.DestConcurrency-busy)
}
