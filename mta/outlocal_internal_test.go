package mta

import (
	"context"
	"testing"
)

type countingHosted struct {
	calls  int
	hosted map[string]bool
}

func (c *countingHosted) HostedDomain(_ context.Context, name string) (bool, error) {
	c.calls++
	return c.hosted[name], nil
}

// TestHostedCache: a domain is asked about once within hostedTTL, case
// aside; each domain has its own answer.
func TestHostedCache(t *testing.T) {
	st := &countingHosted{hosted: map[string]bool{"example.com": true}}
	var c hostedCache
	ctx := context.Background()
	for i, tc := range []struct {
		domain string
		want   bool
	}{{"example.com", true}, {"EXAMPLE.com", true}, {"remote.test", false}, {"remote.test", false}} {
		got, err := c.isHosted(ctx, st, tc.domain)
		if err != nil || got != tc.want {
			t.Errorf("%d: isHosted(%s) = %v, %v; want %v", i, tc.domain, got, err, tc.want)
		}
	}
	if st.calls != 2 {
		t.Errorf("%d queries, want 2 (one per domain)", st.calls)
	}
}
