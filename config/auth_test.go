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
	if err := c.Set("auth.allow_plaintext_loopback", "false"); err != nil || c.Auth.AllowPlaintextLoopback {
		t.Fatalf("set allow_plaintext_loopback=false: %v, %v", err, c.Auth.AllowPlaintextLoopback)
	}
}
