package dnsres_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mailhost/dnsres"
	"mailhost/dnstest"
)

// resolver asks servers in order; the short timeout only makes a silent
// server cost little.
func resolver(t *testing.T, servers ...string) *dnsres.Resolver {
	t.Helper()
	r, err := dnsres.New(dnsres.Config{Servers: servers, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	var de *dnsres.Error
	if !errors.Is(err, kind) || !errors.As(err, &de) {
		t.Fatalf("got %v, want a *dnsres.Error of kind %q", err, kind)
	}
	if de.Temporary() != (kind == dnsres.ErrTemporary) {
		t.Fatalf("%v: Temporary() = %v", err, de.Temporary())
	}
}

// A server that fails, whichever way, hands the query to the next one.
func TestFallbackToTheNextServer(t *testing.T) {
	good := newNameserver(t, dnstest.Answer, "example.test. 60 IN MX 10 mx.example.test.")
	for _, tc := range []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"SERVFAIL", func(t *testing.T) string { return newNameserver(t, dnstest.ServFail).Addr }},
		{"REFUSED", func(t *testing.T) string { return newNameserver(t, dnstest.Refused).Addr }},
		{"timeout", func(t *testing.T) string { return newSilent(t).addr }},
		{"nobody listening", func(t *testing.T) string {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			pc.Close() // the query meets a closed port
			return pc.LocalAddr().String()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := good.Queries()
			mxs, err := resolver(t, tc.addr(t), good.Addr).MX(context.Background(), "example.test")
			if err != nil || len(mxs) != 1 || mxs[0] != (dnsres.MX{Host: "mx.example.test", Pref: 10}) {
				t.Fatalf("got %v, %v", mxs, err)
			}
			if n := good.Queries() - before; n != 1 {
				t.Errorf("the answering server got %d queries, want 1", n)
			}
		})
	}
}

// When every server fails the lookup is temporary, never "not found",
// after each server was asked once per attempt.
func TestAllServersFailingIsTemporary(t *testing.T) {
	bad := newNameserver(t, dnstest.ServFail)
	quiet := newSilent(t)
	_, err := resolver(t, bad.Addr, quiet.addr).MX(context.Background(), "example.test")
	wantKind(t, err, dnsres.ErrTemporary)
	if n := bad.Queries(); n != 2 {
		t.Errorf("the SERVFAIL server got %d queries, want 2 (two attempts)", n)
	}
	_, err = resolver(t, bad.Addr).IPs(context.Background(), "mx.example.test")
	wantKind(t, err, dnsres.ErrTemporary)
}

// NXDOMAIN is an answer: the next server is not asked.
func TestNotFoundAndNoData(t *testing.T) {
	first := newNameserver(t, dnstest.Answer, "example.test. 60 IN A 192.0.2.1")
	second := newNameserver(t, dnstest.Answer, "gone.example.test. 60 IN MX 10 mx.example.test.")
	r := resolver(t, first.Addr, second.Addr)
	ctx := context.Background()

	_, err := r.MX(ctx, "gone.example.test")
	wantKind(t, err, dnsres.ErrNotFound)
	if n := second.Queries(); n != 0 {
		t.Errorf("after NXDOMAIN the second server got %d queries", n)
	}
	_, err = r.MX(ctx, "example.test")
	wantKind(t, err, dnsres.ErrNoData)
	_, err = r.TXT(ctx, "example.test")
	wantKind(t, err, dnsres.ErrNoData)
	_, err = r.IPs(ctx, "gone.example.test")
	wantKind(t, err, dnsres.ErrNotFound)
	_, err = r.MX(ctx, "bad name.example")
	wantKind(t, err, dnsres.ErrNotFound)
}

// A truncated UDP answer is asked again over TCP.
func TestTruncatedAnswerRetriedOverTCP(t *testing.T) {
	long := "v=spf1 " + strings.Repeat("ip4:192.0.2.1 ", 25) + "-all" // longer than one string may be
	ns := newNameserver(t, dnstest.Truncate,
		`example.test. 60 IN TXT "`+long[:200]+`" "`+long[200:]+`"`,
		`example.test. 60 IN TXT "second"`)
	txt, err := resolver(t, ns.Addr).TXT(context.Background(), "example.test")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(txt, []string{long, "second"}) {
		t.Errorf("TXT = %q", txt)
	}
	if ns.UDPQueries() != 1 || ns.TCPQueries() != 1 {
		t.Errorf("%d UDP and %d TCP queries, want 1 and 1", ns.UDPQueries(), ns.TCPQueries())
	}
}

func TestMX(t *testing.T) {
	ns := newNameserver(t, dnstest.Answer,
		"example.test. 60 IN MX 20 backup.example.test.",
		"example.test. 60 IN MX 10 a.example.test.",
		"example.test. 60 IN MX 10 b.example.test.",
		"null.test. 60 IN MX 0 .",
		"mixed.test. 60 IN MX 0 .",
		"mixed.test. 60 IN MX 10 mx.mixed.test.")
	r := resolver(t, ns.Addr)
	ctx := context.Background()
	mxs, err := r.MX(ctx, "example.test")
	if err != nil || len(mxs) != 3 || mxs[0].Pref != 10 || mxs[1].Pref != 10 || mxs[2].Host != "backup.example.test" {
		t.Fatalf("got %v, %v", mxs, err)
	}
	_, err = r.MX(ctx, "null.test") // RFC 7505
	wantKind(t, err, dnsres.ErrNullMX)
	mxs, err = r.MX(ctx, "mixed.test")
	if err != nil || len(mxs) != 1 || mxs[0].Host != "mx.mixed.test" {
		t.Errorf("null MX among others: got %v, %v", mxs, err)
	}
}

func TestIPs(t *testing.T) {
	ns := newNameserver(t, dnstest.Answer,
		"both.test. 60 IN AAAA 2001:db8::1",
		"both.test. 60 IN A 192.0.2.1",
		"six.test. 60 IN AAAA 2001:db8::2",
		"none.test. 60 IN MX 10 both.test.")
	r := resolver(t, ns.Addr)
	ctx := context.Background()
	for _, tc := range []struct {
		host string
		want []string
	}{
		{"both.test", []string{"192.0.2.1", "2001:db8::1"}},
		{"six.test", []string{"2001:db8::2"}},
		{"192.0.2.9", []string{"192.0.2.9"}},
	} {
		ips, err := r.IPs(ctx, tc.host)
		if got := texts(ips); err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.host, ips, err, tc.want)
		}
	}
	_, err := r.IPs(ctx, "none.test")
	wantKind(t, err, dnsres.ErrNoData)
}

func TestBlockList(t *testing.T) {
	ns := newNameserver(t, dnstest.Answer,
		"2.0.0.127.bl.test. 60 IN A 127.0.0.2",
		"2.0.0.127.bl.test. 60 IN A 127.0.0.4",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test. 60 IN A 127.0.0.3",
		"3.0.0.127.bl.test. 60 IN A 127.255.255.254",
		"4.0.0.127.bl.test. 60 IN TXT \"not an A record\"")
	r := resolver(t, ns.Addr)
	ctx := context.Background()
	for _, tc := range []struct {
		ip   string
		want []string
	}{
		{"127.0.0.2", []string{"127.0.0.2", "127.0.0.4"}},
		{"::ffff:127.0.0.2", []string{"127.0.0.2", "127.0.0.4"}}, // an IPv4 client seen on an IPv6 socket
		{"2001:db8::1", []string{"127.0.0.3"}},
		{"127.0.0.9", nil}, // NXDOMAIN: not listed
		{"127.0.0.4", nil}, // NODATA: not listed
	} {
		got, err := r.BlockList(ctx, "bl.test", netip.MustParseAddr(tc.ip))
		if err != nil || !slices.Equal(texts(got), tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.ip, got, err, tc.want)
		}
	}
	_, err := r.BlockList(ctx, "bl.test", netip.MustParseAddr("127.0.0.3"))
	wantKind(t, err, dnsres.ErrBlockListCode)
	_, err = resolver(t, newNameserver(t, dnstest.ServFail).Addr).BlockList(ctx, "bl.test", netip.MustParseAddr("127.0.0.2"))
	wantKind(t, err, dnsres.ErrTemporary)
}

func TestPTRAndForwardConfirmed(t *testing.T) {
	ns := newNameserver(t, dnstest.Answer,
		"5.2.0.192.in-addr.arpa. 60 IN PTR liar.test.",
		"5.2.0.192.in-addr.arpa. 60 IN PTR mail.test.",
		"liar.test. 60 IN A 192.0.2.77",
		"mail.test. 60 IN A 192.0.2.5",
		"6.2.0.192.in-addr.arpa. 60 IN PTR liar.test.",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 60 IN PTR six.test.",
		"six.test. 60 IN AAAA 2001:db8::1")
	r := resolver(t, ns.Addr)
	ctx := context.Background()
	names, err := r.PTR(ctx, netip.MustParseAddr("192.0.2.5"))
	if err != nil || len(names) != 2 {
		t.Fatalf("PTR: %v, %v", names, err)
	}
	for _, tc := range []struct{ ip, want string }{
		{"192.0.2.5", "mail.test"},
		{"2001:db8::1", "six.test"},
		{"192.0.2.6", ""}, // the name does not point back
		{"192.0.2.7", ""}, // no PTR
	} {
		if got, err := r.ForwardConfirmed(ctx, netip.MustParseAddr(tc.ip)); err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.ip, got, err, tc.want)
		}
	}
	_, err = resolver(t, newNameserver(t, dnstest.ServFail).Addr).ForwardConfirmed(ctx, netip.MustParseAddr("192.0.2.5"))
	wantKind(t, err, dnsres.ErrTemporary)
}

// The caller's context ends a lookup waiting on a silent server.
func TestContextEndsTheLookup(t *testing.T) {
	quiet := newSilent(t)
	r, err := dnsres.New(dnsres.Config{Servers: []string{quiet.addr}, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-quiet.heard
		cancel()
	}()
	_, err = r.MX(ctx, "example.test")
	wantKind(t, err, dnsres.ErrTemporary)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want it to say the context was cancelled", err)
	}
}

func TestServersFromConfigOrResolvConf(t *testing.T) {
	r, err := dnsres.New(dnsres.Config{Servers: []string{"192.0.2.1", "192.0.2.2:5353", "2001:db8::53"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Servers(); !slices.Equal(got, []string{"192.0.2.1:53", "192.0.2.2:5353", "[2001:db8::53]:53"}) {
		t.Errorf("servers %v", got)
	}
	if _, err := dnsres.New(dnsres.Config{Servers: []string{"ns.example"}}); err == nil {
		t.Error("a host name was taken as a nameserver")
	}
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(conf, []byte("search example.test\nnameserver 192.0.2.1\nnameserver 2001:db8::53\noptions timeout:1 attempts:3\n"), 0o600)
	r, err = dnsres.New(dnsres.Config{ResolvConf: conf})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Servers(); !slices.Equal(got, []string{"192.0.2.1:53", "[2001:db8::53]:53"}) {
		t.Errorf("servers from resolv.conf %v", got)
	}
	r, _ = dnsres.New(dnsres.Config{ResolvConf: filepath.Join(t.TempDir(), "missing")})
	if got := r.Servers(); !slices.Equal(got, []string{"127.0.0.1:53"}) {
		t.Errorf("without resolv.conf: %v", got)
	}
}

func texts(ips []netip.Addr) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}
