package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TLSReportCount is a number of outbound TLS sessions (or MTA-STS policy
// fetches) of one day with one result, for RFC 8460 reports (migration
// 0024). Day is a UTC date (midnight).
type TLSReportCount struct {
	Day         time.Time `db:"day"`
	Domain      string    `db:"domain"`
	Policy      string    `db:"policy"` // sts, tlsa, no-policy-found
	MXHost      string    `db:"mx_host"`
	ReceivingIP string    `db:"receiving_ip"`
	Result      string    `db:"result"` // successful or an RFC 8460 4.3.2 failure type
	Sessions    int64     `db:"sessions"`
}

// TLSReportKey names one day's report for one domain.
type TLSReportKey struct {
	Day    time.Time `db:"day"`
	Domain string    `db:"domain"`
}

// AddTLSReportCounts adds counts to the stored ones, in one batch: every
// node adds its own, none overwrites another's.
func (s *Store) AddTLSReportCounts(ctx context.Context, counts []TLSReportCount) error {
	if len(counts) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, c := range counts {
		b.Queue(`
			INSERT INTO tls_report_counts AS t (day, domain, policy, mx_host, receiving_ip, result, sessions)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (day, domain, policy, mx_host, receiving_ip, result)
			DO UPDATE SET sessions = t.sessions + excluded.sessions`,
			c.Day, c.Domain, c.Policy, c.MXHost, c.ReceivingIP, c.Result, c.Sessions)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: add TLS report counts: %w", err)
	}
	return nil
}

// DueTLSReports lists the reports of days from since up to (not
// including) before that have counts and that no node has claimed yet.
func (s *Store) DueTLSReports(ctx context.Context, since, before time.Time) ([]TLSReportKey, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT DISTINCT c.day, c.domain FROM tls_report_counts c
		WHERE c.day >= $1 AND c.day < $2
		  AND NOT EXISTS (SELECT 1 FROM tls_reports r WHERE r.day = c.day AND r.domain = c.domain)
		ORDER BY c.day, c.domain`, since, before)
	keys, err := pgx.CollectRows(rows, pgx.RowToStructByName[TLSReportKey])
	if err != nil {
		return nil, fmt.Errorf("store: due TLS reports: %w", err)
	}
	return keys, nil
}

// ClaimTLSReport records that this node sends k's report; false when
// another node claimed it first.
func (s *Store) ClaimTLSReport(ctx context.Context, k TLSReportKey) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO tls_reports (day, domain) VALUES ($1, $2) ON CONFLICT DO NOTHING`, k.Day, k.Domain)
	if err != nil {
		return false, fmt.Errorf("store: claim TLS report %s %s: %w", k.Day.Format(time.DateOnly), k.Domain, err)
	}
	return tag.RowsAffected() == 1, nil
}

// FinishTLSReport records what became of a claimed report.
func (s *Store) FinishTLSReport(ctx context.Context, k TLSReportKey, outcome string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE tls_reports SET outcome = $3 WHERE day = $1 AND domain = $2`, k.Day, k.Domain, outcome); err != nil {
		return fmt.Errorf("store: finish TLS report %s %s: %w", k.Day.Format(time.DateOnly), k.Domain, err)
	}
	return nil
}

// TLSReportCounts returns the counts of k's report.
func (s *Store) TLSReportCounts(ctx context.Context, k TLSReportKey) ([]TLSReportCount, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT day, domain, policy, mx_host, receiving_ip, result, sessions FROM tls_report_counts
		WHERE day = $1 AND domain = $2 ORDER BY policy, mx_host, receiving_ip, result`, k.Day, k.Domain)
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByName[TLSReportCount])
	if err != nil {
		return nil, fmt.Errorf("store: TLS report counts %s %s: %w", k.Day.Format(time.DateOnly), k.Domain, err)
	}
	return counts, nil
}

// PruneTLSReports deletes counts and report records of days before
// before.
func (s *Store) PruneTLSReports(ctx context.Context, before time.Time) error {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM tls_report_counts WHERE day < $1`, before)
	b.Queue(`DELETE FROM tls_reports WHERE day < $1`, before)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: prune TLS reports: %w", err)
	}
	return nil
}
