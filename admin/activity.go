package admin

import (
	"context"
	"strings"
	"time"

	"mailhost/store"
)

// Series is one metric over a time range, in equal buckets: counters are
// summed per bucket, gauges keep the bucket's last sample.
type Series struct {
	Metric string        `json:"metric"`
	Label  string        `json:"label"`
	Gauge  bool          `json:"gauge"`
	Total  int64         `json:"total"` // counters: the sum; gauges: the last value
	Points []SeriesPoint `json:"points"`
}

// SeriesPoint is one bucket.
type SeriesPoint struct {
	At    time.Time `json:"at"`
	Value int64     `json:"value"`
}

// ActivityView is what the dashboard draws: the last 24 hours in
// 10-minute buckets and the last 7 days in hours.
type ActivityView struct {
	Domain string   `json:"domain,omitempty"`
	Day    []Series `json:"day"`
	Week   []Series `json:"week"`
}

// metricLabel names the metrics the recorder (package maillog) keeps.
func metricLabel(m string) (string, bool) {
	switch m {
	case "received":
		return "Messages received", false
	case "delivered":
		return "Delivered to mailboxes", false
	case "sent":
		return "Sent out", false
	case "deferred":
		return "Deferred", false
	case "bounced":
		return "Bounced", false
	case "logins_failed":
		return "Logins failed", false
	case "logins_blocked":
		return "Login blocks", false
	case "queue":
		return "Recipients in the queue", true
	case "storage":
		return "Mail stored", true
	}
	if r, ok := strings.CutPrefix(m, "rejected:"); ok {
		return "Rejected: " + strings.ReplaceAll(r, "_", " "), false
	}
	return m, false
}

// Activity returns the graphs of the whole server (domain "", for
// super-admins) or of one domain (its admins too: its deliveries,
// mail sent from it and its storage).
func (s *Service) Activity(ctx context.Context, a Actor, domain string) (ActivityView, error) {
	metrics := []string{"received", "delivered", "sent", "deferred", "bounced"}
	if domain == "" {
		if !a.Superadmin {
			return ActivityView{}, newErr(Forbidden, "only a super-admin sees the whole server's traffic")
		}
	} else {
		d, err := s.domainFor(ctx, s.st.Read(), a, domain, false)
		if err != nil {
			return ActivityView{}, err
		}
		domain, metrics = d.Name, []string{"delivered", "sent"}
	}
	now := time.Now()
	day, week := firstBucket(now, 10*time.Minute, 144), firstBucket(now, time.Hour, 168)
	if domain == "" {
		rejects, err := s.st.StatMetrics(ctx, "rejected:", week)
		if err != nil {
			return ActivityView{}, err
		}
		metrics = append(append(metrics, rejects...), "logins_failed", "logins_blocked", "queue")
	}
	metrics = append(metrics, "storage")
	v := ActivityView{Domain: domain}
	for _, m := range metrics {
		minutes, err := s.st.StatSeries(ctx, m, domain, day, false)
		if err != nil {
			return ActivityView{}, err
		}
		hours, err := s.st.StatSeries(ctx, m, domain, week, true)
		if err != nil {
			return ActivityView{}, err
		}
		label, gauge := metricLabel(m)
		v.Day = append(v.Day, bucket(m, label, gauge, minutes, day, 10*time.Minute, 144))
		v.Week = append(v.Week, bucket(m, label, gauge, hours, week, time.Hour, 168))
	}
	return v, nil
}

// firstBucket is the start of the first of n buckets of width whose last
// one holds now.
func firstBucket(now time.Time, width time.Duration, n int) time.Time {
	return now.Truncate(width).Add(-time.Duration(n-1) * width)
}

// bucket spreads points over n buckets of width from start.
func bucket(metric, label string, gauge bool, pts []store.StatPoint, start time.Time, width time.Duration, n int) Series {
	s := Series{Metric: metric, Label: label, Gauge: gauge, Points: make([]SeriesPoint, n)}
	for i := range s.Points {
		s.Points[i].At = start.Add(time.Duration(i) * width)
	}
	for _, p := range pts {
		i := int(p.At.Sub(start) / width)
		if i < 0 || i >= n {
			continue
		}
		if gauge {
			s.Points[i].Value = p.Value // points come in time order: the last wins
			s.Total = p.Value
		} else {
			s.Points[i].Value += p.Value
			s.Total += p.Value
		}
	}
	return s
}

// MailLogEntry is a mail log row as the faces show it.
type MailLogEntry struct {
	At        time.Time `json:"at"`
	Event     string    `json:"event"`
	QueueID   string    `json:"queue_id"`
	QueueRow  string    `json:"queue_row,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	Sender    string    `json:"sender"`
	Recipient string    `json:"recipient"`
	Detail    string    `json:"detail,omitempty"`
	Client    string    `json:"client,omitempty"`
}

// MailLog searches recent mail by queue id, message id, sender or
// recipient (a prefix), newest first, at most 200 rows: everything for a
// super-admin, the mail of their domains for a domain admin.
func (s *Service) MailLog(ctx context.Context, a Actor, q, event string) ([]MailLogEntry, error) {
	f := store.MailLogFilter{Q: strings.TrimSpace(q), Event: event, Limit: 200}
	if !a.Superadmin {
		f.Domains = []string{}
		for _, id := range a.DomainIDs {
			d, err := s.st.Read().DomainByID(ctx, id, false)
			if err != nil {
				continue
			}
			f.Domains = append(f.Domains, d.Name)
		}
	}
	rows, err := s.st.SearchMailLog(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]MailLogEntry, len(rows))
	for i, r := range rows {
		out[i] = MailLogEntry{At: r.At, Event: r.Event, QueueID: r.QueueID, QueueRow: r.QueueRow, MessageID: r.MessageID,
			Sender: r.Sender, Recipient: r.Recipient, Detail: r.Detail, Client: r.Client}
	}
	return out, nil
}
