package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// MailEvent is one row of the mail log.
type MailEvent struct {
	At        time.Time
	Event     string
	QueueID   string
	QueueRow  string
	MessageID string
	Sender    string
	Recipient string
	Domains   []string
	Detail    string
	Client    string
}

// StatDelta is a count for one metric and domain ("" for the server) at
// one minute: added for counters, replacing for gauges.
type StatDelta struct {
	At     time.Time // truncated to the minute by the store
	Metric string
	Domain string
	Value  int64
}

// StatPoint is one value of a series.
type StatPoint struct {
	At    time.Time
	Value int64
}

// RecordActivity writes mail log rows and adds counters to the minute and
// hour tables, in one batch (one implicit transaction).
func (s *Store) RecordActivity(ctx context.Context, events []MailEvent, counts []StatDelta) error {
	b := &pgx.Batch{}
	for _, e := range events {
		b.Queue(`INSERT INTO mail_log (at, event, queue_id, queue_row, message_id, sender, recipient, domains, detail, client)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			e.At, e.Event, e.QueueID, e.QueueRow, e.MessageID, e.Sender, e.Recipient, nonNilStrings(e.Domains), e.Detail, e.Client)
	}
	for _, c := range counts {
		for _, table := range []string{"stats_minute", "stats_hour"} {
			b.Queue(`INSERT INTO `+table+` (at, metric, domain, value) VALUES (date_trunc($1, $2::timestamptz), $3, $4, $5)
				ON CONFLICT (metric, domain, at) DO UPDATE SET value = `+table+`.value + EXCLUDED.value`,
				unit(table), c.At, c.Metric, c.Domain, c.Value)
		}
	}
	return translate(s.pool.SendBatch(ctx, b).Close(), "record activity")
}

// SetGauges stores sampled values (queue size, storage used): the last
// sample of a minute or an hour is its value.
func (s *Store) SetGauges(ctx context.Context, gauges []StatDelta) error {
	b := &pgx.Batch{}
	for _, g := range gauges {
		for _, table := range []string{"stats_minute", "stats_hour"} {
			b.Queue(`INSERT INTO `+table+` (at, metric, domain, value) VALUES (date_trunc($1, $2::timestamptz), $3, $4, $5)
				ON CONFLICT (metric, domain, at) DO UPDATE SET value = EXCLUDED.value`,
				unit(table), g.At, g.Metric, g.Domain, g.Value)
		}
	}
	return translate(s.pool.SendBatch(ctx, b).Close(), "set gauges")
}

func unit(table string) string {
	if table == "stats_hour" {
		return "hour"
	}
	return "minute"
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// StatSeries returns a metric's points for domain ("" for the server)
// since a time, per minute (hourly false) or per hour.
func (s *Store) StatSeries(ctx context.Context, metric, domain string, since time.Time, hourly bool) ([]StatPoint, error) {
	table := "stats_minute"
	if hourly {
		table = "stats_hour"
	}
	rows, err := s.pool.Query(ctx, `SELECT at, value FROM `+table+` WHERE metric = $1 AND domain = $2 AND at >= $3 ORDER BY at`,
		metric, domain, since)
	if err != nil {
		return nil, translate(err, "stat series")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[StatPoint])
	return out, translate(err, "stat series")
}

// StatMetrics lists the metric names recorded since a time that start
// with prefix (such as "rejected:").
func (s *Store) StatMetrics(ctx context.Context, prefix string, since time.Time) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT metric FROM stats_hour WHERE starts_with(metric, $1) AND at >= date_trunc('hour', $2::timestamptz) ORDER BY 1`,
		prefix, since)
	if err != nil {
		return nil, translate(err, "stat metrics")
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, translate(err, "stat metrics")
}

// MailLogFilter selects mail log rows: Q matches a queue id or row, a
// message id, or a sender or recipient starting with it; Domains (when
// not nil) keeps rows concerning one of them.
type MailLogFilter struct {
	Q       string
	Event   string
	Domains []string
	Limit   int
}

// SearchMailLog returns the newest matching rows first.
func (s *Store) SearchMailLog(ctx context.Context, f MailLogFilter) ([]MailEvent, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT at, event, queue_id, queue_row, message_id, sender, recipient, domains, detail, client FROM mail_log
		WHERE ($1 = '' OR queue_id = upper($1) OR queue_id = $1 OR queue_row = $1 OR message_id = $1 OR message_id = '<' || $1 || '>'
				OR starts_with(lower(sender), lower($1)) OR starts_with(lower(recipient), lower($1)))
			AND ($2 = '' OR event = $2)
			AND ($3::text[] IS NULL OR domains && $3)
		ORDER BY at DESC, id DESC LIMIT $4`, f.Q, f.Event, f.Domains, f.Limit)
	if err != nil {
		return nil, translate(err, "search mail log")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[MailEvent])
	return out, translate(err, "search mail log")
}

// PruneActivity removes minute counts, hour counts and mail log rows
// older than their ages.
func (s *Store) PruneActivity(ctx context.Context, minutes, hours, log time.Duration) error {
	now := time.Now()
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM stats_minute WHERE at < $1`, now.Add(-minutes))
	b.Queue(`DELETE FROM stats_hour WHERE at < $1`, now.Add(-hours))
	b.Queue(`DELETE FROM mail_log WHERE at < $1`, now.Add(-log))
	return translate(s.pool.SendBatch(ctx, b).Close(), "prune activity")
}

// StorageByDomain is the bytes the mailboxes of each local domain use.
func (s *Store) StorageByDomain(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.name, COALESCE(SUM(m.used_bytes), 0)::bigint FROM domains d
		LEFT JOIN mailboxes m ON m.domain_id = d.id GROUP BY d.name`)
	if err != nil {
		return nil, translate(err, "storage by domain")
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, translate(err, "storage by domain")
		}
		out[name] = n
	}
	return out, translate(rows.Err(), "storage by domain")
}
