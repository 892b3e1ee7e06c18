package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"mailhost/store"
)

// parallel runs n logins at once and returns their errors.
func parallel(n int, login func(i int) error) []error {
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = login(i)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

func TestParallelGuessesCheckAtMostMaxFailures(t *testing.T) {
	f := newFixture(t, ThrottleConfig{MaxFailures: 10, Block: time.Hour, Delay: time.Millisecond})
	errs := parallel(200, func(i int) error {
		_, err := f.login("alice@example.com", fmt.Sprintf("guess%d", i), client)
		return err
	})
	invalid, throttled := 0, 0
	for _, err := range errs {
		switch {
		case errors.Is(err, ErrInvalidCredentials):
			invalid++
		case errors.Is(err, ErrThrottled):
			throttled++
		default:
			t.Fatalf("unexpected answer: %v", err)
		}
	}
	if n := f.a.HashesComputed(); n > 10 || invalid != int(n) || throttled != 200-invalid {
		t.Fatalf("200 parallel guesses: %d hashes, %d refused as invalid, %d throttled; want at most 10 hashes, the rest throttled",
			n, invalid, throttled)
	}
	// The right password from the attacking address is refused unchecked.
	before := f.a.HashesComputed()
	if _, err := f.login("alice@example.com", "secret", client); !errors.Is(err, ErrThrottled) {
		t.Fatalf("right password from the blocked address: %v; want throttled", err)
	}
	if f.a.HashesComputed() != before {
		t.Fatal("a blocked login was hashed")
	}
}

func TestParallelSuccessesWaitInsteadOfCounting(t *testing.T) {
	// Five places for one address, thirty clients behind it logging in
	// at once with the right password: all get in, nothing is counted.
	f := newFixture(t, ThrottleConfig{MaxFailures: 5, Block: time.Hour, Delay: time.Millisecond})
	errs := parallel(30, func(int) error {
		_, err := f.login("alice@example.com", "secret", client)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	blocks, _ := f.a.guard.st.LoginBlocks(context.Background(), f.clock.Now())
	recs, _, _ := f.a.guard.st.LoginThrottle(context.Background(), []string{ClientKey(client), AccountKey("alice@example.com")}, "", "", time.Time{})
	if len(blocks) != 0 || len(recs) != 0 {
		t.Fatalf("successes left records %v, blocks %v", recs, blocks)
	}
}

func TestStrangersDoNotLockOutTheOwner(t *testing.T) {
	f := newFixture(t, defaultLimits)
	home := netip.MustParseAddr("203.0.113.9")
	if _, err := f.login("alice@example.com", "secret", home); err != nil {
		t.Fatal(err)
	}
	// A botnet: every guess from another address, in parallel.
	errs := parallel(60, func(i int) error {
		_, err := f.login("alice@example.com", "guess", netip.AddrFrom4([4]byte{198, 51, byte(i / 200), byte(i%200 + 1)}))
		return err
	})
	for _, err := range errs {
		if !errors.Is(err, ErrInvalidCredentials) && !errors.Is(err, ErrThrottled) {
			t.Fatalf("guess: %v", err)
		}
	}
	if n := f.a.HashesComputed(); n > 1+5 {
		t.Fatalf("60 guesses from 60 addresses computed %d hashes; want at most the owner's 1 + max_failures 5", n)
	}
	// A new address, even with the right password, is held back ...
	var te *ThrottledError
	if _, err := f.login("alice@example.com", "secret", netip.MustParseAddr("192.0.2.200")); !errors.As(err, &te) || te.Reason != "account" {
		t.Fatalf("unknown address during the attack: %v; want throttled (account)", err)
	}
	// ... the owner's known address is not.
	if _, err := f.login("alice@example.com", "secret", home); err != nil {
		t.Fatalf("owner from a known address during the attack: %v", err)
	}
	// And the owner's own typos count against its address only.
	f.login("alice@example.com", "typo", home) //nolint:errcheck
	if _, err := f.login("alice@example.com", "secret", home); err != nil {
		t.Fatalf("owner after a typo: %v", err)
	}
}

func TestSuccessResetsTheAccountCount(t *testing.T) {
	f := newFixture(t, defaultLimits)
	for i := range 4 {
		f.login("alice@example.com", "x", netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})) //nolint:errcheck
	}
	if _, err := f.login("alice@example.com", "secret", client); err != nil {
		t.Fatal(err)
	}
	// Four more from unknown addresses: without the reset, the second
	// would have blocked the account.
	for i := range 4 {
		if _, err := f.login("alice@example.com", "x", netip.AddrFrom4([4]byte{198, 51, 101, byte(i + 1)})); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d after a success: %v", i, err)
		}
	}
}

func TestUnblockLiftsABlock(t *testing.T) {
	st := NewMemoryThrottleStore()
	creds := &memCreds{byAddr: map[string]store.Credential{}}
	clock := newFakeClock()
	a, err := NewAuthenticator(creds, Options{Hasher: cheap(SchemeArgon2ID), ThrottleStore: st, Clock: clock,
		Throttle: ThrottleConfig{MaxFailures: 2, Block: time.Hour}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	login := func() error {
		_, err := a.Login(context.Background(), LoginRequest{Username: "x@example.com", Password: "x", RemoteIP: client})
		return err
	}
	login() //nolint:errcheck
	login() //nolint:errcheck
	if err := login(); !errors.Is(err, ErrThrottled) {
		t.Fatalf("third failure: %v; want throttled", err)
	}
	blocks, _ := st.LoginBlocks(context.Background(), clock.Now())
	if len(blocks) != 2 {
		t.Fatalf("blocks = %v; want the address and the account", blocks)
	}
	st.Unblock(ClientKey(client), AccountKey("X@example.com"))
	if err := login(); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("after unblock: %v; want the password checked", err)
	}
}

func TestConcurrentHashesAreBounded(t *testing.T) {
	creds := &memCreds{byAddr: map[string]store.Credential{}}
	a, err := NewAuthenticator(creds, Options{Hasher: cheap(SchemeArgon2ID), MaxConcurrentHashes: 2,
		Throttle: ThrottleConfig{MaxFailures: 1000, Block: time.Hour}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	parallel(50, func(i int) error {
		_, err := a.Login(context.Background(), LoginRequest{Username: "x@example.com", Password: "x",
			RemoteIP: netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(i%250 + 1)})})
		return err
	})
	if p := a.guard.hashes.peak.Load(); p > 2 || a.HashesComputed() != 50 {
		t.Fatalf("peak of concurrent hashes = %d over %d hashes; want at most 2 over 50", p, a.HashesComputed())
	}
}

func TestNoHashSlotInTimeIsBusyNotAFailure(t *testing.T) {
	creds := &memCreds{byAddr: map[string]store.Credential{}}
	a, err := NewAuthenticator(creds, Options{Hasher: cheap(SchemeArgon2ID), MaxConcurrentHashes: 1,
		HashWait: time.Millisecond, Throttle: ThrottleConfig{MaxFailures: 1, Block: time.Hour},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hold, held := make(chan struct{}), make(chan struct{})
	go a.guard.hashes.run(context.Background(), func() { close(held); <-hold }) //nolint:errcheck
	<-held
	_, err = a.Login(context.Background(), LoginRequest{Username: "x@example.com", Password: "x", RemoteIP: client})
	close(hold)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("login with every hash slot taken: %v; want ErrBusy", err)
	}
	// Not counted: with max_failures 1, a counted failure would block.
	if _, err := a.Login(context.Background(), LoginRequest{Username: "x@example.com", Password: "x", RemoteIP: client}); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("next login: %v; want its password checked", err)
	}
}

func TestAutoConcurrentHashes(t *testing.T) {
	n := AutoConcurrentHashes(Hasher{Scheme: SchemeArgon2ID, Argon2MemoryKiB: 19456, Argon2Time: 2, Argon2Threads: 1})
	if n < 1 || n > 2*64*maxAutoHashesPerCPU {
		t.Fatalf("AutoConcurrentHashes = %d", n)
	}
	if huge := AutoConcurrentHashes(Hasher{Scheme: SchemeArgon2ID, Argon2MemoryKiB: maxArgon2MemoryKiB}); huge < 1 || huge > n {
		t.Fatalf("with the largest argon2 memory: %d; want between 1 and %d", huge, n)
	}
}
