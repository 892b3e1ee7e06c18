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
func checker(t *testing.T, rrs ...string) (*senderauth.Checker, *dnstest.Server) {
	t.Helper()
	srv := dnstest.Start(t, rrs...)
	res, err := dnsres.New(dnsres.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return &senderauth.Checker{DNS: res}, srv
}
