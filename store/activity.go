package store

import (
	"context"
	"encoding/json"
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
// hour tables, in one batch (one implicit transaction) of three
// statements whatever the number of rows: the rows go in as arrays, and
// the counters are summed per metric, domain and minute or hour before
// the upsert (an INSERT ... ON CONFLICT may not touch a row twice).
func (s *Store) RecordActivity(ctx context.Context, events []MailEvent, counts []StatDelta) error {
	b := &pgx.Batch{}
	if len(events) > 0 {
		queueMailLog(b, events)
	}
	if len(counts) > 0 {
		n := len(counts)
		at, metric, domain, value := make([]time.Time, n), make([]string, n), make([]string, n), make([]int64, n)
		for i, c := range counts {
			at[i], metric[i], domain[i], value[i] = c.At, c.Metric, c.Domain, c.Value
		}
		for _, table := range []string{"stats_minute", "stats_hour"} {
			b.Queue(`INSERT INTO `+table+` (at, metric, domain, value)
				SELECT date_trunc($1, x.at), x.metric, x.domain, sum(x.value)
				FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::bigint[]) AS x(at, metric, domain, value)
				GROUP BY 1, 2, 3
				ON CONFLICT (metric, domain, at) DO UPDATE SET value = `+table+`.value + EXCLUDED.value`,
				unit(table), at, metric, domain, value)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	return translate(s.pool.SendBatch(ctx, b).Close(), "record activity")
}

// queueMailLog adds the insert of events, in their order, to b. A row's
// domains travel as a JSON array: the rows' lists differ in length, which
// a two-dimensional SQL array cannot hold.
func queueMailLog(b *pgx.Batch, events []MailEvent) {
	n := len(events)
	at := make([]time.Time, n)
	event, qid, qrow, msgid, sender, rcpt, doms, detail, client := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, e := range events {
		d, _ := json.Marshal(nonNilStrings(e.Domains)) // strings always encode
		at[i], event[i], qid[i], qrow[i], msgid[i], sender[i], rcpt[i], doms[i], detail[i], client[i] =
			e.At, e.Event, e.QueueID, e.QueueRow, e.MessageID, e.Sender, e.Recipient, string(d), e.Detail, e.Client
	}
	b.Queue(`INSERT INTO mail_log (at, event, queue_id, queue_row, message_id, sender, recipient, domains, detail, client)
		SELECT x.at, x.event, x.qid, x.qrow, x.msgid, x.sender, x.rcpt,
			ARRAY(SELECT jsonb_array_elements_text(x.doms::jsonb)), x.detail, x.client
		FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::text[]) WITH ORDINALITY AS x(at, event, qid, qrow, msgid, sender, rcpt, doms, detail, client, n)
		ORDER BY x.n`,
		at, event, qid, qrow, msgid, sender, rcpt, doms, detail, client)
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
