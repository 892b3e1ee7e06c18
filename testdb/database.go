package testdb

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// cloneDatabase creates database name as a copy of template (a migrated
// template gives a fresh database in milliseconds).
func cloneDatabase(ctx context.Context, adminURL, name, template string) error {
	return withConn(ctx, adminURL, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{template}.Sanitize())
		if err != nil {
			return fmt.Errorf("testdb: create database %q from %q: %w", name, template, err)
		}
		return nil
	})
}

// dropDatabase removes database name, disconnecting its sessions.
func dropDatabase(ctx context.Context, adminURL, name string) error {
	return withConn(ctx, adminURL, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		if err != nil {
			return fmt.Errorf("testdb: drop database %q: %w", name, err)
		}
		return nil
	})
}

// withConn runs fn on a connection to the maintenance database at url.
func withConn(ctx context.Context, url string, fn func(*pgx.Conn) error) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("testdb: connect: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	return fn(c)
}
