package imapd_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mailhost/imapd"
	"mailhost/testsupport"
)

// greeting dials addr (over TLS when tc is set) and returns the server's
// first line; the connection stays open until the test ends.
func greeting(t *testing.T, addr string, tc *tls.Config) (string, net.Conn) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if tc != nil {
		c = tls.Client(c, tc)
	}
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("greeting of %s: %v (%q)", addr, err, l)
	}
	return strings.TrimSuffix(l, "\r\n"), c
}

// imap.max_connections_per_client: IMAP and IMAPS count a client's
// connections together; the one over the limit is greeted with BYE (over
// TLS on IMAPS, never clear text there) and closed.
func TestConnectionsPerClientLimit(t *testing.T) {
	e := newEnv(t)
	n := e.startNodeWith(t, func(o *imapd.Options) { o.MaxConnsPerClient = 2 })
	client := &tls.Config{InsecureSkipVerify: true}

	g1, c1 := greeting(t, n.addr, nil)
	g2, _ := greeting(t, n.tlsAddr, client)
	if !strings.HasPrefix(g1, "* OK") || !strings.HasPrefix(g2, "* OK") {
		t.Fatalf("greetings within the limit: %q, %q", g1, g2)
	}
	const bye = "* BYE [UNAVAILABLE] Too many connections from your address, try again later"
	for _, l := range []struct {
		addr string
		tls  *tls.Config
	}{{n.addr, nil}, {n.tlsAddr, client}} {
		g, c := greeting(t, l.addr, l.tls)
		if g != bye {
			t.Fatalf("over the limit on %s: %q, want %q", l.addr, g, bye)
		}
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("refused connection on %s left open: %v", l.addr, err)
		}
	}
	// The other node has no limit.
	for i := 0; i < 3; i++ {
		if g, _ := greeting(t, e.nodes[0].addr, nil); !strings.HasPrefix(g, "* OK") {
			t.Fatalf("unlimited node, connection %d: %q", i, g)
		}
	}

	c1.Close()
	testsupport.Eventually(t, 30*time.Second, "a connection to be served again after the first left", func() bool {
		g, c := greeting(t, n.addr, nil)
		c.Close()
		return strings.HasPrefix(g, "* OK")
	})
}
