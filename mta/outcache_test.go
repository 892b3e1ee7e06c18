package mta_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailhost/mta"
)

// relayTo sends everything to the scripted peer p as the relay host, one
// message at a time (one worker), so that each can take the connection
// the one before left.
func relayTo(p *scripted) func(*mta.OutboundConfig) {
	return func(c *mta.OutboundConfig) {
		c.Relayhost = "[127.0.0.1]:" + p.port
		c.Workers = 1
		c.ConnCache.IdleTime = time.Minute // the tests end it themselves
	}
}

// counterValue is what /metrics shows for c.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("gather: %v %v", mfs, err)
	}
	return mfs[0].GetMetric()[0].GetCounter().GetValue()
}

// send queues one message to each of rcpts in turn, each after the one
// before has left the queue.
func (e *env) send(rcpts ...string) {
	e.t.Helper()
	for _, r := range rcpts {
		e.enqueue("alice@example.test", r)
		waitFor(e.t, "the queue to drain", func() bool { return e.queueLen() == 0 })
	}
}

// Messages to one relay host go over one connection: EHLO once, then a
// transaction per message, MAIL right after the last one's end (no RSET),
// and QUIT when the workers stop.
func TestOutboundReusesConnection(t *testing.T) {
	e, z, _ := outEnv(t)
	p := newScripted(t, nil)
	const n = 5
	for i := range n {
		e.enqueue("alice@example.test", fmt.Sprintf("u%d@remote.example", i))
	}
	o, stop := e.runOutbound(z, 0, "node-a", relayTo(p))
	waitFor(t, "the queue to drain", func() bool { return e.queueLen() == 0 })
	if conns, dots := p.count(); conns != 1 || dots != n {
		t.Fatalf("peer saw %d connections, %d messages; want 1, %d", conns, dots, n)
	}
	if got, want := p.verbs(1), "EHLO"+strings.Repeat(" MAIL RCPT DATA", n); got != want {
		t.Fatalf("commands %q, want %q", got, want)
	}
	if r, c := counterValue(t, o.Metrics().ConnReuses), counterValue(t, o.Metrics().Connections); r != n-1 || c != 1 {
		t.Errorf("metrics: %v reuses, %v connections; want %d, 1", r, c, n-1)
	}
	stop()
	if got := p.verbs(1); !strings.HasSuffix(got, "DATA QUIT") {
		t.Fatalf("after shutdown: %q, want QUIT at the end", got)
	}
}

// An idle connection is closed with QUIT after its idle time; the next
// message opens a new one.
func TestOutboundIdleConnectionExpires(t *testing.T) {
	e, z, _ := outEnv(t)
	p := newScripted(t, nil)
	e.startOutbound(z, 0, "node-a", relayTo(p), func(c *mta.OutboundConfig) { c.ConnCache.IdleTime = 50 * time.Millisecond })
	e.send("u1@remote.example")
	waitFor(t, "QUIT after the idle time", func() bool { return p.verbs(1) == "EHLO MAIL RCPT DATA QUIT" })
	e.send("u2@remote.example")
	if conns, dots := p.count(); conns != 2 || dots != 2 {
		t.Fatalf("peer saw %d connections, %d messages; want 2, 2", conns, dots)
	}
}

// A connection carries at most queue.connection_reuse_count_limit
// messages.
func TestOutboundConnectionReuseCountLimit(t *testing.T) {
	e, z, _ := outEnv(t)
	p := newScripted(t, nil)
	e.startOutbound(z, 0, "node-a", relayTo(p), func(c *mta.OutboundConfig) { c.ConnCache.MaxUses = 2 })
	e.send("u1@remote.example", "u2@remote.example", "u3@remote.example")
	if got := p.verbs(1); got != "EHLO MAIL RCPT DATA MAIL RCPT DATA QUIT" {
		t.Fatalf("first connection: %q", got)
	}
	if conns, dots := p.count(); conns != 2 || dots != 3 {
		t.Fatalf("peer saw %d connections, %d messages; want 2, 3", conns, dots)
	}
}

// A cached connection the peer closed (after the message, or with 421
// while idle or at the next MAIL) is not a failed attempt: the message goes over a new
// connection at once and is delivered once.
func TestOutboundStaleCachedConnection(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tune  func(*scripted)
		verbs string // of each connection but the last
	}{
		{"hang-up after the message", func(p *scripted) { p.closeAfterDot = true }, "EHLO MAIL RCPT DATA"},
		{"421 at the next MAIL", func(p *scripted) { p.mailsPerConn = 1 }, "EHLO MAIL RCPT DATA MAIL"},
		// Seen on the idle socket: no MAIL is sent.
		{"421 while idle", func(p *scripted) { p.afterDot = "\r\n421 4.4.2 idle, closing" }, "EHLO MAIL RCPT DATA"},
	} {
		for _, pipe := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, pipelining %v", tc.name, pipe), func(t *testing.T) {
				e, z, _ := outEnv(t)
				p := newScripted(t, nil).offerPipelining(pipe)
				tc.tune(p)
				o := e.startOutbound(z, 0, "node-a", relayTo(p))
				const n = 3
				for i := range n {
					e.send(fmt.Sprintf("u%d@remote.example", i))
				}
				if conns, dots := p.count(); conns != n || dots != n {
					t.Fatalf("peer saw %d connections, %d messages; want %d, %d", conns, dots, n, n)
				}
				for i := 1; i < n; i++ {
					if got := p.verbs(i); got != tc.verbs {
						t.Errorf("connection %d: %q, want %q", i, got, tc.verbs)
					}
				}
				if d := counterValue(t, o.Metrics().Deferrals); d != 0 || len(e.logs.lines("deferred")) != 0 {
					t.Errorf("%v deferrals: a stale connection counted as a failed attempt", d)
				}
			})
		}
	}
}

// A message whose recipients were all refused leaves the connection
// usable after RSET: the next message takes it.
func TestOutboundRefusedRecipientsKeepConnection(t *testing.T) {
	e, z, _ := outEnv(t)
	p := newScripted(t, nil)
	p.refuseRcpt = "gone@"
	e.startOutbound(z, 0, "node-a", relayTo(p))
	e.send("gone@remote.example", "ok@remote.example")
	if got := p.verbs(1); got != "EHLO MAIL RCPT RSET MAIL RCPT DATA" {
		t.Fatalf("commands %q", got)
	}
	if conns, dots := p.count(); conns != 1 || dots != 1 {
		t.Fatalf("peer saw %d connections, %d messages; want 1, 1", conns, dots)
	}
}

// Messages under different TLS policies never share a connection, even
// to the same relay host; with one connection allowed per destination,
// the idle connection of the other policy is closed (QUIT) before a new
// one is opened.
func TestOutboundTLSPoliciesDoNotShareConnections(t *testing.T) {
	e, z, _ := outEnv(t)
	p := newScripted(t, nil)
	e.startOutbound(z, 0, "node-a", relayTo(p), func(c *mta.OutboundConfig) {
		c.TLSDomains = map[string]string{"clear.example": "none"} // the others: may
		c.DestConcurrency = 1
	})
	e.send("u1@clear.example", "u2@clear.example", "u3@remote.example", "u4@remote.example", "u5@clear.example")
	if conns, dots := p.count(); conns != 3 || dots != 5 {
		t.Fatalf("peer saw %d connections, %d messages; want 3, 5", conns, dots)
	}
	for i := 1; i <= 2; i++ {
		if got := p.verbs(i); got != "EHLO MAIL RCPT DATA MAIL RCPT DATA QUIT" {
			t.Errorf("connection %d: %q", i, got)
		}
	}
	log := p.log()
	for i := 1; i <= 2; i++ {
		if q, o := slices.Index(log, fmt.Sprintf("%d QUIT", i)), slices.Index(log, fmt.Sprintf("open %d", i+1)); q > o {
			t.Errorf("connection %d opened before %d was closed: %q", i+1, i, log)
		}
	}
}

// Several workers share the cached connections of one destination: each
// message is delivered exactly once, most over reused connections, and
// every transaction is counted as a new or a reused connection.
func TestOutboundConnectionCacheParallel(t *testing.T) {
	e, z, s := outEnv(t)
	const n = 60
	for i := range n {
		e.enqueue("alice@example.test", fmt.Sprintf("u%d@remote.example", i))
	}
	o := e.startOutbound(z, s.port, "node-a", func(c *mta.OutboundConfig) { c.Workers, c.DestConcurrency = 6, 3 })
	waitFor(t, "the queue to drain", func() bool { return e.queueLen() == 0 })
	s.onceEach(t, n)
	conns, reuses := counterValue(t, o.Metrics().Connections), counterValue(t, o.Metrics().ConnReuses)
	if conns+reuses != n || int(conns) != s.sessions() || conns > n/2 {
		t.Errorf("%v new connections (sink saw %d), %v reuses for %d messages", conns, s.sessions(), reuses, n)
	}
}

// A connection that went on in clear after a failed TLS handshake
// (policy may) is not kept: the next message tries STARTTLS again on a
// connection of its own, as the first did.
func TestOutboundPlainFallbackNotReused(t *testing.T) {
	e, z, _ := outEnv(t)
	p := newScripted(t, nil)
	p.brokenTLS = true
	e.startOutbound(z, 0, "node-a", relayTo(p), func(c *mta.OutboundConfig) { c.TLSPolicy = "may" })
	e.send("u1@remote.example", "u2@remote.example")
	// Each message: a connection whose handshake fails, then one in clear.
	if conns, dots := p.count(); conns != 4 || dots != 2 {
		t.Fatalf("peer saw %d connections, %d messages; want 4, 2", conns, dots)
	}
}
