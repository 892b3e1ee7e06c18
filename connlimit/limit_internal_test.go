package connlimit

import (
	"net/netip"
	"testing"
)

func TestClient(t *testing.T) {
	for _, tc := range []struct{ ip, want string }{
		{"192.0.2.1", "192.0.2.1/32"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"}, // a v4-mapped client is the IPv4 one
		{"2001:db8:1:2:3::4", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"::1", "::/64"},
	} {
		if got := Client(netip.MustParseAddr(tc.ip)); got != netip.MustParsePrefix(tc.want) {
			t.Errorf("Client(%s) = %s, want %s", tc.ip, got, tc.want)
		}
	}
}

// IPv6 clients count per /64, IPv4 clients per address; exempt networks
// and unknown addresses are not limited; a release counts once.
func TestAcquire(t *testing.T) {
	l := New(2, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
	ip := netip.MustParseAddr
	take := func(addr string) (func(), bool) { return l.acquire(ip(addr)) }

	r1, ok1 := take("2001:db8:1:2::1")
	_, ok2 := take("2001:db8:1:2::ffff") // same /64
	_, ok3 := take("2001:db8:1:2:8000::1")
	_, ok4 := take("2001:db8:1:3::1") // next /64
	if !ok1 || !ok2 || ok3 || !ok4 {
		t.Fatalf("IPv6 /64: %v %v %v %v, want true true false true", ok1, ok2, ok3, ok4)
	}
	r1()
	r1() // twice: still one release
	if _, ok := take("2001:db8:1:2::2"); !ok {
		t.Fatal("refused after a release")
	}
	if _, ok := take("2001:db8:1:2::3"); ok {
		t.Fatal("a double release counted twice")
	}

	_, a := take("198.51.100.1")
	_, b := take("198.51.100.1")
	_, c := take("198.51.100.1")
	_, d := take("198.51.100.2")
	if !a || !b || c || !d {
		t.Fatalf("IPv4: %v %v %v %v, want true true false true", a, b, c, d)
	}
	for i := 0; i < 5; i++ {
		if _, ok := take("192.0.2.7"); !ok {
			t.Fatal("an exempt client was limited")
		}
		if _, ok := l.acquire(netip.Addr{}); !ok {
			t.Fatal("an unknown address was limited")
		}
	}
	if _, ok := New(0, nil).acquire(ip("198.51.100.1")); !ok {
		t.Fatal("max 0 limited")
	}
}
