package dnsres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"mailhost/dnstest"
)

// clock is a settable time for the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cached returns a resolver with a cache on a settable clock, asking addr.
func cached(t *testing.T, cfg CacheConfig, addr string) (*Resolver, *clock) {
	t.Helper()
	if cfg.Entries == 0 {
		cfg.Entries = 100
	}
	r, err := New(Config{Servers: []string{addr}, Timeout: time.Second, Attempts: 1, Cache: cfg})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	r.cache.now = c.now
	return r, c
}

const testSOA = "example.test. 3600 IN SOA ns.example.test. hostmaster.example.test. 1 7200 3600 1209600 300"

// wantQueries looks name's A records up and checks how many queries the
// server has had in all.
func wantQueries(t *testing.T, r *Resolver, ns *dnstest.Server, name string, want int) {
	t.Helper()
	r.IPs(context.Background(), name)
	if got := ns.Queries(); got != want {
		t.Fatalf("%s: %d queries in all, want %d", name, got, want)
	}
}

// An answer is kept for the least TTL of its records, within the cap
// and over the floor.
func TestCacheHonoursTTL(t *testing.T) {
	ns := dnstest.Start(t, testSOA,
		"a.example.test. 60 IN A 192.0.2.1", "a.example.test. 60 IN AAAA 2001:db8::1",
		"long.example.test. 86400 IN A 192.0.2.2", "long.example.test. 86400 IN AAAA 2001:db8::2")
	r, clk := cached(t, CacheConfig{MaxTTL: time.Hour}, ns.Addr)
	wantQueries(t, r, ns, "a.example.test", 2) // A and AAAA
	clk.add(59 * time.Second)
	wantQueries(t, r, ns, "a.example.test", 2)
	clk.add(time.Second)
	wantQueries(t, r, ns, "a.example.test", 4)  // the TTL ran out
	wantQueries(t, r, ns, "A.Example.Test.", 4) // one name, however written

	wantQueries(t, r, ns, "long.example.test", 6)
	clk.add(time.Hour) // the cap, not the day of the TTL
	wantQueries(t, r, ns, "long.example.test", 8)

	zero := dnstest.Start(t, "z.example.test. 0 IN TXT \"x\"")
	r, _ = cached(t, CacheConfig{}, zero.Addr)
	for range 2 {
		r.TXT(context.Background(), "z.example.test")
	}
	if zero.Queries() != 2 {
		t.Errorf("TTL 0 without a floor: %d queries, want 2", zero.Queries())
	}
	r, clk = cached(t, CacheConfig{MinTTL: 10 * time.Second}, zero.Addr)
	r.TXT(context.Background(), "z.example.test")
	clk.add(9 * time.Second)
	if txt, err := r.TXT(context.Background(), "z.example.test"); err != nil || txt[0] != "x" || zero.Queries() != 3 {
		t.Errorf("TTL 0 under a 10s floor: %q, %v, %d queries in all, want 3", txt, err, zero.Queries())
	}
}

// NXDOMAIN and NODATA are kept by their SOA (the lesser of its TTL and
// MINIMUM, RFC 2308 5) within the negative cap; a denial without SOA and a
// temporary failure are not kept.
func TestCacheNegativeAnswers(t *testing.T) {
	ns := dnstest.Start(t, testSOA, "a.example.test. 60 IN A 192.0.2.1", "other.test. 60 IN A 192.0.2.9")
	r, clk := cached(t, CacheConfig{}, ns.Addr)
	ctx := context.Background()
	lookups := []struct {
		name string
		f    func() error
		kind error
	}{
		{"NXDOMAIN", func() error { _, err := r.TXT(ctx, "gone.example.test"); return err }, ErrNotFound},
		{"NODATA", func() error { _, err := r.MX(ctx, "a.example.test"); return err }, ErrNoData},
	}
	for _, l := range lookups {
		before := ns.Queries()
		for range 3 {
			if err := l.f(); !errors.Is(err, l.kind) {
				t.Fatalf("%s: %v", l.name, err)
			}
		}
		if got := ns.Queries() - before; got != 1 {
			t.Errorf("%s: %d queries, want 1", l.name, got)
		}
	}
	clk.add(299 * time.Second)
	before := ns.Queries()
	for _, l := range lookups {
		l.f()
	}
	if ns.Queries() != before {
		t.Errorf("denials not kept for the SOA MINIMUM of 300s")
	}
	clk.add(time.Second)
	for _, l := range lookups {
		l.f()
	}
	if got := ns.Queries() - before; got != 2 {
		t.Errorf("after 300s: %d queries, want 2", got)
	}

	capped, clk := cached(t, CacheConfig{NegativeTTL: time.Minute}, ns.Addr)
	before = ns.Queries()
	capped.TXT(ctx, "gone.example.test")
	clk.add(time.Minute)
	capped.TXT(ctx, "gone.example.test")
	if got := ns.Queries() - before; got != 2 {
		t.Errorf("negative cap of 1m: %d queries, want 2", got)
	}

	before = ns.Queries()
	for range 2 {
		r.TXT(ctx, "nothing.other.test") // NXDOMAIN without SOA
		r.TXT(ctx, "other.test")         // NODATA without SOA
	}
	if got := ns.Queries() - before; got != 4 {
		t.Errorf("denials without SOA: %d queries, want 4 (not kept)", got)
	}

	ns.FailName("fail.example.test.")
	before = ns.Queries()
	for range 2 {
		if _, err := r.TXT(ctx, "fail.example.test"); !errors.Is(err, ErrTemporary) {
			t.Fatalf("SERVFAIL: %v", err)
		}
	}
	if got := ns.Queries() - before; got != 2 {
		t.Errorf("SERVFAIL: %d queries, want 2 (not kept)", got)
	}
}

// A kept answer keeps its own AD bit: DANE sees from the cache what the
// validating resolver said of that answer.
func TestCacheKeepsTheADBit(t *testing.T) {
	ns := dnstest.Start(t, "mx.test. 3600 IN SOA ns.mx.test. h.mx.test. 1 7200 3600 1209600 300",
		"_25._tcp.mx.test. 60 IN TLSA 3 1 1 0123456789abcdef",
		"_25._tcp.plain.mx.test. 60 IN TLSA 3 1 1 0123456789abcdef")
	r, _ := cached(t, CacheConfig{}, ns.Addr)
	ctx := context.Background()
	ns.SetAuthenticated(true)
	r.TLSA(ctx, "_25._tcp.mx.test")
	r.TLSA(ctx, "_25._tcp.gone.mx.test")
	ns.SetAuthenticated(false)
	r.TLSA(ctx, "_25._tcp.plain.mx.test")
	ns.SetAuthenticated(true) // the server's mood now must not matter
	before := ns.Queries()
	for range 2 {
		if _, ad, err := r.TLSA(ctx, "_25._tcp.mx.test"); err != nil || !ad {
			t.Errorf("authenticated TLSA from the cache: AD %v, %v", ad, err)
		}
		_, ad, err := r.TLSA(ctx, "_25._tcp.gone.mx.test")
		var de *Error
		if !errors.As(err, &de) || !errors.Is(err, ErrNotFound) || !de.Authenticated || !ad {
			t.Errorf("authenticated denial from the cache: AD %v, %v", ad, err)
		}
		if _, ad, err := r.TLSA(ctx, "_25._tcp.plain.mx.test"); err != nil || ad {
			t.Errorf("unauthenticated TLSA from the cache: AD %v, %v", ad, err)
		}
	}
	if ns.Queries() != before {
		t.Errorf("%d queries for answers in the cache", ns.Queries()-before)
	}
}

// gated is a nameserver that holds every answer until release is closed.
type gated struct {
	addr    string
	queries atomic.Int32
	arrived chan struct{} // one value per query
	release chan struct{}
}

func startGated(t *testing.T) *gated {
	t.Helper()
	g := &gated{arrived: make(chan struct{}, 100), release: make(chan struct{})}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		g.queries.Add(1)
		g.arrived <- struct{}{}
		<-g.release
		m := new(dns.Msg)
		m.SetReply(req)
		rr, _ := dns.NewRR(req.Question[0].Name + " 60 IN TXT \"v=spf1 -all\"")
		m.Answer = []dns.RR{rr}
		w.WriteMsg(m)
	})
	srv := &dns.Server{Addr: "127.0.0.1:0", Net: "udp", Handler: h}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ListenAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	g.addr = srv.PacketConn.LocalAddr().String()
	return g
}

// Parallel lookups of one name make one query; a caller whose context
// ends stops waiting without failing the others' lookup.
func TestCacheOneQueryInFlight(t *testing.T) {
	g := startGated(t)
	r, _ := cached(t, CacheConfig{}, g.addr)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			txt, err := r.TXT(context.Background(), "spf.example.test")
			if err == nil && (len(txt) != 1 || txt[0] != "v=spf1 -all") {
				err = errors.New("wrong answer " + txt[0])
			}
			errs <- err
		})
	}
	gone, cancel := context.WithCancel(context.Background())
	quit := make(chan error, 1)
	go func() { _, err := r.TXT(gone, "spf.example.test"); quit <- err }()
	<-g.arrived
	time.Sleep(50 * time.Millisecond) // let the others join the flight
	cancel()
	if err := <-quit; !errors.Is(err, ErrTemporary) || !errors.Is(err, context.Canceled) {
		t.Errorf("caller that gave up: %v", err)
	}
	close(g.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if q := g.queries.Load(); q != 1 {
		t.Errorf("%d parallel lookups made %d queries, want 1", n+1, q)
	}
}

// A full cache makes room: it never holds more than Entries answers.
func TestCacheBounded(t *testing.T) {
	ns := dnstest.Start(t, testSOA, "a.example.test. 60 IN TXT \"a\"", "b.example.test. 60 IN TXT \"b\"",
		"c.example.test. 60 IN TXT \"c\"")
	r, _ := cached(t, CacheConfig{Entries: 2}, ns.Addr)
	for _, n := range []string{"a", "b", "c", "a", "b", "c"} {
		if txt, err := r.TXT(context.Background(), n+".example.test"); err != nil || txt[0] != n {
			t.Fatalf("%s: %q, %v", n, txt, err)
		}
		if len(r.cache.m) > 2 {
			t.Fatalf("%d entries kept, bound 2", len(r.cache.m))
		}
	}
}

// A full cache frees a tenth of its room at once: the next answers are
// kept without another walk over the entries.
func TestCacheEvictsATenth(t *testing.T) {
	c := newCache(CacheConfig{Entries: 100})
	resp := new(dns.Msg)
	resp.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{"x"}}}
	for i := range 100 {
		c.m[cacheKey{name: fmt.Sprintf("n%d.", i), qtype: dns.TypeTXT}] = cacheEntry{resp: resp, exp: c.now().Add(time.Hour)}
	}
	c.put(cacheKey{name: "new.", qtype: dns.TypeTXT}, resp, nil)
	if n := len(c.m); n != 91 {
		t.Fatalf("%d entries after an answer was kept in a full cache of 100, want 91 (90 kept and the new one)", n)
	}
	if _, ok := c.m[cacheKey{name: "new.", qtype: dns.TypeTXT}]; !ok {
		t.Fatal("the new answer was not kept")
	}
}
