package store_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"mailhost/testdb"
)

// Nodes starting together agree on one generated secret, and it stays.
func TestSRSSecretsShared(t *testing.T) {
	st := testdb.Open(t)
	ctx := context.Background()
	got := make([][][]byte, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := st.SRSSecrets(ctx)
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		}()
	}
	wg.Wait()
	for i, s := range got {
		if len(s) != 1 || len(s[0]) != 32 || !bytes.Equal(s[0], got[0][0]) {
			t.Fatalf("caller %d got %d secrets, or another one", i, len(s))
		}
	}
	// A rotation: the newest generation signs (comes first), the old one
	// is kept to verify.
	if _, err := st.Pool().Exec(ctx, `INSERT INTO srs_secrets (generation, secret) VALUES (2, $1)`,
		bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	s, err := st.SRSSecrets(ctx)
	if err != nil || len(s) != 2 || s[0][0] != 7 || !bytes.Equal(s[1], got[0][0]) {
		t.Fatalf("after rotation: %d secrets, %v", len(s), err)
	}
}

func TestHostedDomain(t *testing.T) {
	st := testdb.Open(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO domains (name) VALUES ('example.test')`,
		`INSERT INTO domains (name, kind, relay_to) VALUES ('relay.test', 'relay', 'mx.relay.test')`,
		`INSERT INTO alias_domains (alias_domain, target_domain_id) SELECT 'alias.test', id FROM domains WHERE name = 'example.test'`,
	} {
		if _, err := st.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for d, want := range map[string]bool{"example.test": true, "alias.test": true, "relay.test": false, "other.test": false} {
		if got, err := st.HostedDomain(ctx, d); err != nil || got != want {
			t.Errorf("HostedDomain(%s) = %v, %v; want %v", d, got, err, want)
		}
	}
}
