package senderauth_test

import (
	"testing"
	"time"

	"mailhost/dnsres"
	"mailhost/dnstest"
	"mailhost/senderauth"
)

// checker starts a loopback DNS server holding rrs and returns a Checker
// asking it.
func checker(t testing.TB, rrs ...string) (*senderauth.Checker, *dnstest.Server) {
	return newChecker(t, dnsres.CacheConfig{}, rrs...)
}

// cachedChecker is checker with a resolver cache.
func cachedChecker(t testing.TB, rrs ...string) (*senderauth.Checker, *dnstest.Server) {
	return newChecker(t, dnsres.CacheConfig{Entries: 1000}, rrs...)
}

func newChecker(t testing.TB, cache dnsres.CacheConfig, rrs ...string) (*senderauth.Checker, *dnstest.Server) {
	t.Helper()
	srv := dnstest.Start(t, rrs...)
	res, err := dnsres.New(dnsres.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, Attempts: 1, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	return &senderauth.Checker{DNS: res}, srv
}
