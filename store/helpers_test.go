package store_test

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// isCheck reports a violation raised by a domain type's CHECK (class 23) or
// by a trigger with a constraint error code.
func isCheck(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && len(pe.Code) == 5 && pe.Code[:2] == "23"
}
