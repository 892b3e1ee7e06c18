package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"mailhost/config"
	"mailhost/pgcluster"
	"mailhost/store"
)

// embeddedDB is the database name inside the private cluster.
const embeddedDB = "mailhost"

// database is an open store and what it takes to let go of it.
type database struct {
	*store.Store
	cluster *pgcluster.Cluster // nil with an external database
}

// openDatabase connects to the configured database: the external one at
// database.url, or the private cluster under the data directory, started
// for this process when it is not running already. With migrate it applies
// pending migrations (under an advisory lock).
func openDatabase(ctx context.Context, cfg *config.Config, log *slog.Logger, migrate bool) (*database, error) {
	url := cfg.Database.URL
	db := &database{}
	if cfg.Embedded() {
		if err := prepareDataDir(cfg, log); err != nil {
			return nil, err
		}
		c, err := pgcluster.Acquire(ctx, pgcluster.Options{
			Dir:   cfg.PostgresDir(),
			RunAs: pgcluster.Owner{UID: uint32(cfg.Vmail.UID), GID: uint32(cfg.Vmail.GID)},
			Log:   log,
		})
		if err != nil {
			return nil, err
		}
		db.cluster = c
		if err := store.EnsureDatabase(ctx, c.URL("postgres"), embeddedDB); err != nil {
			db.close(ctx)
			return nil, err
		}
		url = c.URL(embeddedDB)
	}
	s, err := store.Open(ctx, url, store.Options{MaxConns: cfg.Database.MaxConns, Node: cfg.Hostname})
	if err != nil {
		db.close(ctx)
		return nil, err
	}
	db.Store = s
	if migrate {
		applied, err := s.Migrate(ctx)
		if err != nil {
			db.close(ctx)
			return nil, err
		}
		for _, m := range applied {
			log.Info("migration applied", "version", m.Version, "name", m.Name)
		}
	}
	return db, nil
}

// close closes the pool and stops the private cluster when this process
// was its last user.
func (db *database) close(ctx context.Context) {
	if db.Store != nil {
		db.Store.Close()
	}
	if db.cluster != nil {
		if err := db.cluster.Release(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintln(os.Stderr, "mailhost:", err)
		}
	}
}

// prepareDataDir creates the data directory. As root it belongs to the
// vmail account, which mailhost becomes after binding its ports and which
// runs the private cluster inside it (PostgreSQL refuses root); in the
// embedded mode that account is created when missing.
func prepareDataDir(cfg *config.Config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if os.Geteuid() != 0 {
		return nil
	}
	if cfg.Embedded() {
		if err := ensureVmailUser(cfg, log); err != nil {
			return err
		}
	}
	if err := os.Chown(cfg.DataDir, cfg.Vmail.UID, cfg.Vmail.GID); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	return nil
}
