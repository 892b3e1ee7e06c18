package testsupport

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// FirstLine connects to addr from the local address from ("" for any),
// over TLS when tc is set, and returns the server's first line without its
// CRLF (a greeting, or a refusal) with the connection, which is closed
// when the test ends. It reads no further than the line, so the next read
// of the connection sees what follows it.
func FirstLine(t testing.TB, from, addr string, tc *tls.Config) (string, net.Conn) {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if tc != nil {
		c = tls.Client(c, tc)
	}
	var line strings.Builder
	b := make([]byte, 1)
	for !strings.HasSuffix(line.String(), "\n") {
		if _, err := c.Read(b); err != nil {
			t.Fatalf("first line from %s: %v (%q)", addr, err, line.String())
		}
		line.WriteByte(b[0])
	}
	return strings.TrimSuffix(line.String(), "\r\n"), c
}
