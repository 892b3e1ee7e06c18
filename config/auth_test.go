package config

import (
	"strings"
	"testing"
)

func TestAuthAndPOP3Keys(t *testing.T) {
	c := Default()
	c.Finish()
	if c.Auth.MaxFailures != 10 || c.Auth.BlockSeconds != 900 || c.Auth.DelayMS != 500 || !c.Auth.AllowPlaintextLoopback || c.POP3.IdleTimeout != 600 {
		t.Fatalf("defaults: %+v %+v", c.Auth, c.POP3)
	}
	for _, tc := range []struct{ key, value string }{
		{"auth.max_failures", "0"},
		{"auth.block_seconds", "0"},
		{"auth.block_seconds", "604801"},
		{"auth.delay_ms", "-1"},
		{"auth.delay_ms", "60001"},
		{"auth.max_concurrent_hashes", "-1"},
		{"auth.hash_wait_seconds", "0"},
		{"auth.known_client_days", "0"},
		{"pop3.idle_timeout", "5"},
		{"pop3.max_connections_per_client", "-1"},
		{"imap.max_connections_per_client", "-1"},
		{"submission.max_connections_per_client", "-1"},
		{"smtp.max_connections_per_client", "-1"},
	} {
		c := Default()
		if err := c.Set(tc.key, tc.value); err != nil {
			t.Fatal(err)
		}
		c.Finish()
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s = %s: Validate() = %v; want an error naming the key", tc.key, tc.value, err)
		}
	}
	c = Default()
	if c.Auth.MaxConcurrentHashes != 0 || c.Auth.HashWaitSeconds != 10 || c.Auth.KnownClientDays != 30 {
		t.Fatalf("hash and known-client defaults: %+v", c.Auth)
	}
	if err := c.Set("auth.max_concurrent_hashes", "4"); err != nil || c.Auth.MaxConcurrentHashes != 4 {
		t.Fatalf("set max_concurrent_hashes: %v, %+v", err, c.Auth)
	}
	c = Default()
	if err := c.Set("auth.allow_plaintext_loopback", "false"); err != nil || c.Auth.AllowPlaintextLoopback {
		t.Fatalf("set allow_plaintext_loopback=false: %v, %v", err, c.Auth.AllowPlaintextLoopback)
	}
}
