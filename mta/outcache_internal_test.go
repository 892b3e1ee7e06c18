package mta

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// pipeConn is a connection to dest over net.Pipe whose peer answers QUIT
// and counts it in quits.
func pipeConn(t *testing.T, dest string, quits *atomic.Int32) *outConn {
	t.Helper()
	client, server := net.Pipe()
	go func() {
		defer server.Close()
		r := bufio.NewReader(server)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(l, "QUIT") {
				quits.Add(1)
				io.WriteString(server, "221 bye\r\n")
				return
			}
		}
	}()
	t.Cleanup(func() { client.Close() })
	c := &outConn{raw: client, conn: client, text: textproto.NewConn(client), born: time.Now(),
		key: connKey{dest: dest, addr: dest + ":25"}}
	c.attach(context.Background())
	return c
}

// The cache keeps at most PerDest idle connections per destination and
// Total in all, none used MaxUses times or older than MaxAge; the others
// get QUIT at once. trim closes the oldest of a destination; closeAll
// closes the rest, and nothing is cached after it.
func TestConnCacheLimits(t *testing.T) {
	var quits atomic.Int32
	cc := newConnCache(ConnCacheConfig{IdleTime: time.Hour, MaxAge: time.Minute, MaxUses: 5, PerDest: 2, Total: 3})
	conn := func(dest string) *outConn { return pipeConn(t, dest, &quits) }
	a1, a2, a3, b1, c1 := conn("a"), conn("a"), conn("a"), conn("b"), conn("c")
	for _, c := range []*outConn{a1, a2, a3, b1, c1} {
		cc.release(c, true)
	}
	if n := quits.Load(); n != 2 {
		t.Fatalf("%d QUITs, want 2 (a3 over the destination's limit, c1 over the total)", n)
	}
	b2, b3 := conn("b"), conn("b")
	b2.uses = 5
	b3.born = time.Now().Add(-time.Hour)
	cc.release(b2, true)
	cc.release(b3, true)
	if n := quits.Load(); n != 4 {
		t.Fatalf("%d QUITs, want 4 (a connection used up, one too old)", n)
	}
	cc.trim("a", 1)
	if n := quits.Load(); n != 5 {
		t.Fatalf("trim: %d QUITs, want 5", n)
	}
	if got := cc.take(a1.key); got != a2 {
		t.Fatalf("after trim: took %p, want a2 %p (a1 is the oldest)", got, a2)
	}
	if got := cc.take(a1.key); got != nil {
		t.Fatalf("took a second connection to a")
	}
	cc.closeAll()
	if n := quits.Load(); n != 6 {
		t.Fatalf("closeAll: %d QUITs, want 6 (b1)", n)
	}
	a2.attach(context.Background()) // as session does with a connection it took
	cc.release(a2, true)
	if n := quits.Load(); n != 7 || cc.take(a1.key) != nil {
		t.Fatalf("release after closeAll: %d QUITs, want 7 and nothing cached", n)
	}
}
