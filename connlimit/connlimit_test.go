package connlimit_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"mailhost/connlimit"
	"mailhost/testsupport"
	"mailhost/tlscert"
)

// serve accepts from ln until it is closed and hands the connections over.
func serve(t *testing.T, ln net.Listener) <-chan net.Conn {
	t.Helper()
	out := make(chan net.Conn, 16)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			out <- c
		}
	}()
	return out
}

func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func accepted(t *testing.T, conns <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

func refusal(refused chan<- netip.Addr) connlimit.Refusal {
	return connlimit.Refusal{
		Reply:   func(ip netip.Addr) string { return "BUSY " + ip.String() + "\r\n" },
		Refused: func(ip netip.Addr) { refused <- ip },
	}
}

// Two listeners sharing a limiter count a client's connections together;
// the one over the limit gets the reply and is closed; closing an accepted
// connection frees its place.
func TestListenRefusesOverTheLimit(t *testing.T) {
	lim := connlimit.New(2, nil)
	refused := make(chan netip.Addr, 4)
	var addrs []string
	var conns []<-chan net.Conn
	for i := 0; i < 2; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		conns = append(conns, serve(t, lim.Listen(ln, refusal(refused))))
	}
	dialFrom(t, "127.0.0.2", addrs[0])
	first := accepted(t, conns[0])
	dialFrom(t, "127.0.0.2", addrs[1])
	accepted(t, conns[1])

	line, c := testsupport.FirstLine(t, "127.0.0.2", addrs[0], nil)
	if line != "BUSY 127.0.0.2" {
		t.Fatalf("third connection: %q", line)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("third connection still open: %v", err)
	}
	if ip := <-refused; ip != netip.MustParseAddr("127.0.0.2") {
		t.Fatalf("refused %s", ip)
	}

	dialFrom(t, "127.0.0.3", addrs[0]) // another client
	accepted(t, conns[0])

	if nc, ok := first.(interface{ NetConn() net.Conn }); !ok || nc.NetConn() == nil {
		t.Fatal("an accepted connection does not unwrap to its socket")
	}
	first.Close()
	dialFrom(t, "127.0.0.2", addrs[0])
	accepted(t, conns[0])
}

// On an implicit-TLS listener the refusal is never clear text: the
// handshake completes and the reply comes over TLS.
func TestTLSRefusal(t *testing.T) {
	dir := t.TempDir()
	cert, err := tlscert.Load(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), "localhost", true, tlscert.Owner{UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := refusal(make(chan netip.Addr, 4))
	r.TLS = conf
	conns := serve(t, tls.NewListener(connlimit.New(1, nil).Listen(ln, r), conf))
	addr := ln.Addr().String()

	dialFrom(t, "127.0.0.2", addr)
	accepted(t, conns)

	if line, _ := testsupport.FirstLine(t, "127.0.0.2", addr, &tls.Config{InsecureSkipVerify: true}); line != "BUSY 127.0.0.2" {
		t.Fatalf("refusal over TLS: %q", line)
	}

	// A client that speaks clear text first sees no clear-text reply:
	// the server waits for a ClientHello.
	raw := dialFrom(t, "127.0.0.2", addr)
	raw.Write([]byte("HELLO\r\n"))
	b, _ := io.ReadAll(raw)
	if len(b) > 0 && b[0] != 0x15 { // at most a TLS alert record
		t.Fatalf("clear text on the TLS port: %q", b)
	}
}
