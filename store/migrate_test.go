package store_test

import (
	"context"
	"sync"
	"testing"

	"mailhost/store"
	"mailhost/testdb"
)

func TestMigrationsApplyToEmptyDatabaseConcurrently(t *testing.T) {
	ctx := context.Background()
	url := testdb.New(t) // already migrated from the template: start over below
	s, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Pool().Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	all, err := store.Migrations()
	if err != nil || len(all) == 0 {
		t.Fatalf("migrations: %v, %d", err, len(all))
	}
	st, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st {
		if m.AppliedAt != nil {
			t.Fatalf("%04d applied on an empty database", m.Version)
		}
	}
	// Two nodes starting at once: the advisory lock makes one apply and the
	// other find nothing left to do.
	var wg sync.WaitGroup
	counts := make([]int, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied, err := s.Migrate(ctx)
			counts[i], errs[i] = len(applied), err
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("migrate: %v / %v", errs[0], errs[1])
	}
	if counts[0]+counts[1] != len(all) {
		t.Fatalf("applied %d+%d migrations, want %d in all", counts[0], counts[1], len(all))
	}
	st, err = s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st {
		if m.AppliedAt == nil {
			t.Errorf("%04d_%s not applied", m.Version, m.Name)
		}
	}
	again, err := s.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate applied %d, err %v", len(again), err)
	}
	for _, table := range []string{"domains", "alias_domains", "mailboxes", "aliases", "forwardings",
		"retained_maildirs", "admins", "domain_admins", "api_tokens", "audit_log", "folders", "messages",
		"queue", "queue_recipients", "access_rules", "relocated", "vacations", "vacation_notifications"} {
		var ok bool
		if err := s.Pool().QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing after migrating (%v)", table, err)
		}
	}
}
