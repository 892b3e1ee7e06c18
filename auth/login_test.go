package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailhost/store"
)

// fakeClock advances only when slept on: no test waits for real.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	slept  []time.Duration
	sleeps int
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) lastSleep() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.slept) == 0 {
		return 0
	}
	return c.slept[len(c.slept)-1]
}

// memCreds is an in-memory Credentials: address -> credential, with alias
// domains resolved by the test setup.
type memCreds struct {
	mu      sync.Mutex
	byAddr  map[string]store.Credential
	lookups int
	fail    error
}

func (m *memCreds) MailboxCredentials(_ context.Context, addr string) (store.Credential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	if m.fail != nil {
		return store.Credential{}, m.fail
	}
	c, ok := m.byAddr[addr]
	if !ok {
		return store.Credential{}, fmt.Errorf("mem: %q: %w", addr, store.ErrNotFound)
	}
	return c, nil
}

func (m *memCreds) RehashPassword(_ context.Context, id int64, old, new string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, c := range m.byAddr {
		if c.MailboxID == id && c.Password == old {
			c.Password = new
			m.byAddr[k] = c
		}
	}
	return nil
}

func (m *memCreds) stored(addr string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byAddr[addr].Password
}

var (
	client  = netip.MustParseAddr("192.0.2.7")
	client2 = netip.MustParseAddr("192.0.2.8")
)

type fixture struct {
	a     *Authenticator
	creds *memCreds
	clock *fakeClock
	reg   *prometheus.Registry
}

func newFixture(t *testing.T, tc ThrottleConfig) *fixture {
	t.Helper()
	h := cheap(SchemeArgon2ID)
	alice, err := h.Hash("secret")
	if err != nil {
		t.Fatal(err)
	}
	// Bob's hash is a legacy one: a login upgrades it.
	bob, err := cheap(SchemeSHA512Crypt).Hash("bobpw")
	if err != nil {
		t.Fatal(err)
	}
	aliceCred := store.Credential{MailboxID: 1, Address: "alice@example.com", Maildir: "example.com/alice/", Password: alice, Active: true}
	creds := &memCreds{byAddr: map[string]store.Credential{
		"alice@example.com":  aliceCred,
		"alice@alias.test":   aliceCred, // an alias domain of example.com
		"bob@example.com":    {MailboxID: 2, Address: "bob@example.com", Password: bob, Active: true},
		"carol@example.com":  {MailboxID: 3, Address: "carol@example.com", Password: alice, Active: false},
		"broken@example.com": {MailboxID: 4, Address: "broken@example.com", Password: "{NOPE}x", Active: true},
	}}
	clock := newFakeClock()
	reg := prometheus.NewRegistry()
	a, err := NewAuthenticator(creds, Options{
		Hasher: h, Throttle: tc, Clock: clock, Registry: reg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{a: a, creds: creds, clock: clock, reg: reg}
}

var defaultLimits = ThrottleConfig{MaxFailures: 5, Block: 15 * time.Minute, Delay: 500 * time.Millisecond}

// counter returns the value of the counter name whose only label has value
// label, 0 when it was never counted.
func (f *fixture) counter(name, label string) float64 {
	mfs, err := f.reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func (f *fixture) login(user, pw string, ip netip.Addr) (Account, error) {
	return f.a.Login(context.Background(), LoginRequest{Username: user, Password: pw, RemoteIP: ip, Protocol: ProtoIMAP})
}

func TestLogin(t *testing.T) {
	for _, tc := range []struct {
		name, user, pw string
		want           string // address, "" for ErrInvalidCredentials
	}{
		{"mailbox", "alice@example.com", "secret", "alice@example.com"},
		{"case and spaces", "  Alice@EXAMPLE.com ", "secret", "alice@example.com"},
		{"alias domain", "alice@alias.test", "secret", "alice@example.com"},
		{"wrong password", "alice@example.com", "Secret", ""},
		{"empty password", "alice@example.com", "", ""},
		{"unknown user", "zed@example.com", "secret", ""},
		{"not an address", "alice", "secret", ""},
		{"inactive mailbox or domain", "carol@example.com", "secret", ""},
		{"unusable stored hash", "broken@example.com", "x", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, defaultLimits)
			acct, err := f.login(tc.user, tc.pw, client)
			if tc.want == "" {
				// The very sentinel, not a wrapping of it: a wrapped error's
				// text could tell a guesser which part was wrong.
				if !errors.Is(err, ErrInvalidCredentials) || err != ErrInvalidCredentials { //nolint:errorlint // identity on purpose
					t.Fatalf("Login = %+v, %v; want exactly ErrInvalidCredentials", acct, err)
				}
				return
			}
			if err != nil || acct.Address != tc.want {
				t.Fatalf("Login = %+v, %v; want %s", acct, err, tc.want)
			}
		})
	}
}

func TestLoginDatabaseErrorIsNotInvalidCredentials(t *testing.T) {
	f := newFixture(t, defaultLimits)
	f.creds.fail = errors.New("connection refused")
	_, err := f.login("alice@example.com", "secret", client)
	if err == nil || errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrThrottled) {
		t.Fatalf("Login with the database down = %v; want a temporary error", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error shows the password: %v", err)
	}
}

func TestLoginUpgradesLegacyHash(t *testing.T) {
	f := newFixture(t, defaultLimits)
	if _, err := f.login("bob@example.com", "bobpw", client); err != nil {
		t.Fatal(err)
	}
	got := f.creds.stored("bob@example.com")
	if Scheme(got) != SchemeArgon2ID {
		t.Fatalf("stored hash after login is %q; want an ARGON2ID hash", got)
	}
	if _, err := f.login("bob@example.com", "bobpw", client); err != nil {
		t.Fatalf("login with the upgraded hash: %v", err)
	}
	// A failed login does not touch the hash.
	before := f.creds.stored("alice@example.com")
	f.login("alice@example.com", "nope", client) //nolint:errcheck
	if f.creds.stored("alice@example.com") != before {
		t.Fatal("failed login changed the stored hash")
	}
}

func TestFailureDelayGrowsThenIPIsBlocked(t *testing.T) {
	f := newFixture(t, defaultLimits)
	var delays []time.Duration
	for i := 0; i < 4; i++ {
		// Different accounts each time: only the address accumulates.
		if _, err := f.login(fmt.Sprintf("u%d@example.com", i), "x", client); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i, err)
		}
		delays = append(delays, f.clock.lastSleep())
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays = %v; want %v", delays, want)
		}
	}
	// The fifth failure imposes the block.
	f.login("u5@example.com", "x", client) //nolint:errcheck
	if n := f.counter("mailhost_auth_blocked_total", "ip"); n != 1 {
		t.Fatalf("mailhost_auth_blocked_total{reason=ip} = %v; want 1", n)
	}
	lookups := f.creds.lookups
	_, err := f.login("alice@example.com", "secret", client)
	var te *ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, ErrThrottled) || te.Reason != "ip" || !te.Temporary() {
		t.Fatalf("login while blocked = %v; want ThrottledError ip", err)
	}
	if f.creds.lookups != lookups {
		t.Fatal("a blocked login still looked the user up")
	}
	// Another client is not affected.
	if _, err := f.login("alice@example.com", "secret", client2); err != nil {
		t.Fatalf("other client: %v", err)
	}
	// The block ends.
	f.clock.Advance(15 * time.Minute)
	if _, err := f.login("alice@example.com", "secret", client); err != nil {
		t.Fatalf("after the block: %v", err)
	}
	if n := f.counter("mailhost_auth_failures_total", ProtoIMAP); n != 5 {
		t.Fatalf("mailhost_auth_failures_total{protocol=imap} = %v; want 5", n)
	}
}

func TestDelayIsCapped(t *testing.T) {
	f := newFixture(t, ThrottleConfig{MaxFailures: 100, Block: time.Hour, Delay: 100 * time.Millisecond})
	for i := 0; i < 20; i++ {
		f.login("alice@example.com", "x", client) //nolint:errcheck
	}
	if d := f.clock.lastSleep(); d != MaxDelayFactor*100*time.Millisecond {
		t.Fatalf("delay after 20 failures = %v; want %v", d, MaxDelayFactor*100*time.Millisecond)
	}
}

func TestAccountIsBlockedAcrossAddresses(t *testing.T) {
	f := newFixture(t, defaultLimits)
	for i := 0; i < 5; i++ {
		ip := netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})
		if _, err := f.login("Alice@example.com", "guess", ip); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	_, err := f.login("alice@example.com", "secret", netip.MustParseAddr("203.0.113.9"))
	var te *ThrottledError
	if !errors.As(err, &te) || te.Reason != "account" {
		t.Fatalf("login to a blocked account = %v; want ThrottledError account", err)
	}
	if n := f.counter("mailhost_auth_blocked_total", "account"); n != 1 {
		t.Fatalf("blocked{account} = %v; want 1", n)
	}
	// Other accounts still work from anywhere.
	if _, err := f.login("bob@example.com", "bobpw", netip.MustParseAddr("203.0.113.9")); err != nil {
		t.Fatal(err)
	}
}

func TestFailuresAreForgotten(t *testing.T) {
	f := newFixture(t, defaultLimits)
	for i := 0; i < 4; i++ {
		f.login("alice@example.com", "x", client) //nolint:errcheck
	}
	// A success clears the account's record...
	if _, err := f.login("alice@example.com", "secret", client2); err != nil {
		t.Fatal(err)
	}
	f.login("alice@example.com", "x", client2) //nolint:errcheck
	if d := f.clock.lastSleep(); d != 500*time.Millisecond {
		t.Fatalf("first failure after a success waited %v; want 500ms", d)
	}
	// ... and old failures of an address expire after the block period.
	f.clock.Advance(time.Hour)
	f.login("x@example.com", "x", client) //nolint:errcheck
	if d := f.clock.lastSleep(); d != 500*time.Millisecond {
		t.Fatalf("failure an hour later waited %v; want 500ms", d)
	}
}

func TestIPv6ClientsCountPerSlash64(t *testing.T) {
	f := newFixture(t, defaultLimits)
	for i := 0; i < 5; i++ {
		ip := netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i+1))
		f.login(fmt.Sprintf("u%d@example.com", i), "x", ip) //nolint:errcheck
	}
	_, err := f.login("alice@example.com", "secret", netip.MustParseAddr("2001:db8:1:2:ffff::1"))
	if !errors.Is(err, ErrThrottled) {
		t.Fatalf("same /64: %v; want throttled", err)
	}
	if _, err := f.login("alice@example.com", "secret", netip.MustParseAddr("2001:db8:1:3::1")); err != nil {
		t.Fatalf("other /64: %v", err)
	}
}

func TestLoginStopsWaitingWhenClientLeaves(t *testing.T) {
	creds := &memCreds{byAddr: map[string]store.Credential{}}
	a, err := NewAuthenticator(creds, Options{Hasher: cheap(SchemeArgon2ID),
		Throttle: ThrottleConfig{MaxFailures: 5, Block: time.Minute, Delay: time.Hour},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = a.Login(ctx, LoginRequest{Username: "a@b.example", Password: "x", RemoteIP: client})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Login with a cancelled context = %v; want context.Canceled at once", err)
	}
}

func TestMetricsRegisterOnGivenRegistry(t *testing.T) {
	f := newFixture(t, defaultLimits)
	f.login("alice@example.com", "secret", client) //nolint:errcheck
	f.login("alice@example.com", "x", client)      //nolint:errcheck
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"mailhost_auth_failures_total", "mailhost_auth_logins_total"} {
		if !names[n] {
			t.Errorf("metric %s not registered (have %v)", n, names)
		}
	}
	// A second Authenticator on the same registry is refused, not a panic.
	if _, err := NewAuthenticator(f.creds, Options{Hasher: cheap(SchemeArgon2ID), Registry: f.reg}); err == nil {
		t.Fatal("registering twice succeeded")
	}
}

func TestMemoryThrottleStoreIsBounded(t *testing.T) {
	st := NewMemoryThrottleStore()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < maxEntries+10; i++ {
		key := ClientKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		st.UpdateLoginThrottle(context.Background(), []string{key}, func(r store.ThrottleRecord) store.ThrottleRecord { //nolint:errcheck
			r.Failures, r.LastFailure = 1, now
			return r
		})
	}
	if n := len(st.records); n > maxEntries {
		t.Fatalf("the memory throttle store holds %d records; want at most %d", n, maxEntries)
	}
}

func TestLoginAllowed(t *testing.T) {
	for _, tc := range []struct {
		tls    bool
		ip     string
		allow  bool
		expect bool
	}{
		{true, "192.0.2.1", false, true},
		{false, "192.0.2.1", true, false},
		{false, "127.0.0.1", true, true},
		{false, "127.0.0.2", true, true},
		{false, "::1", true, true},
		{false, "::ffff:127.0.0.1", true, true},
		{false, "127.0.0.1", false, false},
	} {
		if got := LoginAllowed(tc.tls, netip.MustParseAddr(tc.ip), tc.allow); got != tc.expect {
			t.Errorf("LoginAllowed(tls=%v, %s, loopback=%v) = %v; want %v", tc.tls, tc.ip, tc.allow, got, tc.expect)
		}
	}
	if LoginAllowed(false, netip.Addr{}, true) {
		t.Error("an unknown address counts as loopback")
	}
}

func TestRemoteIP(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 5}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 5}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 5}, "2001:db8::1"},
		{&net.UnixAddr{Name: "/x", Net: "unix"}, "invalid IP"},
		{nil, "invalid IP"},
	} {
		if got := RemoteIP(tc.addr).String(); got != tc.want {
			t.Errorf("RemoteIP(%v) = %s; want %s", tc.addr, got, tc.want)
		}
	}
}
