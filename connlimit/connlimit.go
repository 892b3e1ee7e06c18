// Package connlimit is the one per-client connection limit of every mail
// listener: SMTP (25, and 587 with 465), IMAP (143 with 993) and POP3 (110
// with 995), each protocol with its setting. A client is an IPv4 address
// or an IPv6 /64, the block one subscriber usually holds, so that a client
// cannot spread its connections over its own addresses.
//
// A connection over the limit gets the protocol's refusal (SMTP 421, IMAP
// BYE, POP3 -ERR) and is closed. On an implicit-TLS listener the refusal
// is never sent in clear text: the TLS handshake is completed first and
// the refusal goes over TLS, so the client shows the server's reason and
// retries later instead of reporting a broken TLS connection. Handshakes
// cost CPU, so at most maxRefusing refusals run at once; beyond that a
// refused connection is closed at once.
package connlimit

import (
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"time"
)

// maxRefusing bounds the refusals (handshake and reply) in flight, so a
// flood of connections over the limit costs a bounded amount of work.
const maxRefusing = 64

// refuseTimeout bounds a refusal's handshake and write.
const refuseTimeout = 10 * time.Second

// Client returns what the limit counts a client address as: the address
// itself for IPv4, its /64 for IPv6.
func Client(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := ip.BitLen()
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// Limiter counts the open connections of each client across the listeners
// it guards (a protocol's clear-text and implicit-TLS listeners count
// together). Safe for concurrent use.
type Limiter struct {
	max    int
	exempt []netip.Prefix

	mu   sync.Mutex
	open map[netip.Prefix]int

	refusing chan struct{} // a slot per refusal in flight
}

// New returns a limiter allowing max connections per client; 0 means no
// limit. Clients in exempt (SMTP's mynetworks) are never limited.
func New(max int, exempt []netip.Prefix) *Limiter {
	return &Limiter{max: max, exempt: exempt, open: map[netip.Prefix]int{},
		refusing: make(chan struct{}, maxRefusing)}
}

// acquire counts a connection of ip's client and returns its release, or
// false (counting nothing) when the client already has max open. An
// unknown address (invalid ip) or an exempt one is not limited.
func (l *Limiter) acquire(ip netip.Addr) (release func(), ok bool) {
	if l.max <= 0 || !ip.IsValid() || l.isExempt(ip) {
		return func() {}, true
	}
	k := Client(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[k] >= l.max {
		return nil, false
	}
	l.open[k]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[k]--; l.open[k] <= 0 {
				delete(l.open, k)
			}
		})
	}, true
}

func (l *Limiter) isExempt(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range l.exempt {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Refusal is how a listener turns away a connection over the limit.
type Refusal struct {
	// TLS is set on an implicit-TLS listener: the handshake is completed
	// before the reply is sent over it.
	TLS *tls.Config
	// Reply is the protocol's refusal line (with its CRLF) for a client.
	Reply func(ip netip.Addr) string
	// Refused, when set, is told of each refused connection (log,
	// metrics), before the refusal is sent.
	Refused func(ip netip.Addr)
}

// Listen wraps ln: Accept counts each connection against its client's
// limit, refuses the ones over it (r) and returns the others, whose Close
// releases the count. The connections it returns wrap the accepted ones
// (NetConn returns them), so connctx still watches their socket.
func (l *Limiter) Listen(ln net.Listener, r Refusal) net.Listener {
	return &listener{Listener: ln, l: l, r: r}
}

type listener struct {
	net.Listener
	l *Limiter
	r Refusal
}

func (ln *listener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c.RemoteAddr())
		release, ok := ln.l.acquire(ip)
		if ok {
			return &Conn{Conn: c, release: release}, nil
		}
		if ln.r.Refused != nil {
			ln.r.Refused(ip)
		}
		ln.l.refuse(c, ln.r, ip)
	}
}

// refuse sends the refusal and closes c, off the accept loop; when too
// many refusals are already in flight it closes c at once.
func (l *Limiter) refuse(c net.Conn, r Refusal, ip netip.Addr) {
	select {
	case l.refusing <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		defer c.Close()
		c.SetDeadline(time.Now().Add(refuseTimeout))
		w := c
		if r.TLS != nil {
			tc := tls.Server(c, r.TLS)
			if err := tc.Handshake(); err != nil {
				return
			}
			defer tc.Close() // sends close_notify after the reply
			w = tc
		}
		if r.Reply != nil {
			w.Write([]byte(r.Reply(ip)))
		}
	}()
}

// Conn is an accepted connection within the limit; closing it releases
// its count.
type Conn struct {
	net.Conn
	release func()
}

// Close closes the connection and releases its count (once).
func (c *Conn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// NetConn returns the accepted connection underneath.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// remoteIP is the IP address of a remote address, the zero Addr when it
// has none (a pipe in tests).
func remoteIP(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort().Addr().Unmap()
	}
	if a == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
