package imapd_test

import (
	"crypto/tls"
	"io"
	"strings"
	"testing"
	"time"

	"mailhost/imapd"
	"mailhost/testsupport"
)

// imap.max_connections_per_client: IMAP and IMAPS count a client's
// connections together; the one over the limit is greeted with BYE (over
// TLS on IMAPS, never clear text there) and closed.
func TestConnectionsPerClientLimit(t *testing.T) {
	e := newEnv(t)
	n := e.startNodeWith(t, func(o *imapd.Options) { o.MaxConnsPerClient = 2 })
	client := &tls.Config{InsecureSkipVerify: true}

	g1, c1 := testsupport.FirstLine(t, "", n.addr, nil)
	g2, _ := testsupport.FirstLine(t, "", n.tlsAddr, client)
	if !strings.HasPrefix(g1, "* OK") || !strings.HasPrefix(g2, "* OK") {
		t.Fatalf("greetings within the limit: %q, %q", g1, g2)
	}
	const bye = "* BYE [UNAVAILABLE] Too many connections from your address, try again later"
	for _, l := range []struct {
		addr string
		tls  *tls.Config
	}{{n.addr, nil}, {n.tlsAddr, client}} {
		g, c := testsupport.FirstLine(t, "", l.addr, l.tls)
		if g != bye {
			t.Fatalf("over the limit on %s: %q, want %q", l.addr, g, bye)
		}
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("refused connection on %s left open: %v", l.addr, err)
		}
	}
	// The other node has no limit.
	for i := 0; i < 3; i++ {
		if g, _ := testsupport.FirstLine(t, "", e.nodes[0].addr, nil); !strings.HasPrefix(g, "* OK") {
			t.Fatalf("unlimited node, connection %d: %q", i, g)
		}
	}

	c1.Close()
	testsupport.Eventually(t, 30*time.Second, "a connection to be served again after the first left", func() bool {
		g, c := testsupport.FirstLine(t, "", n.addr, nil)
		c.Close()
		return strings.HasPrefix(g, "* OK")
	})
}
