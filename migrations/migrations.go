// Package migrations holds the numbered SQL files that build the database,
// embedded into the binary. Files are named NNNN_name.sql, applied in order,
// each in its own transaction, and never edited once released: a change to
// the schema is a new file.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
