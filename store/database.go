package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// EnsureDatabase connects to the maintenance database at adminURL and creates
// database name when it does not exist yet (used for the embedded cluster
// and for test databases; cloning and dropping them is testdb's).
func EnsureDatabase(ctx context.Context, adminURL, name string) error {
	return withConn(ctx, adminURL, func(c *pgx.Conn) error {
		var exists bool
		if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			return fmt.Errorf("store: look up database %q: %w", name, err)
		}
		if exists {
			return nil
		}
		_, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		if err != nil && !IsConstraint(err, "") { // lost a race with another creator: fine
			return fmt.Errorf("store: create database %q: %w", name, err)
		}
		return nil
	})
}

func withConn(ctx context.Context, url string, fn func(*pgx.Conn) error) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("store: connect: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	return fn(c)
}
