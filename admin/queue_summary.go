package admin

import "context"

// QueueSummary is the size of the outbound queue: recipients still waiting,
// by state; those of messages on hold count under Hold only.
type QueueSummary struct {
	Queued   int64 `json:"queued"`
	Deferred int64 `json:"deferred"`
	Hold     int64 `json:"hold"`
}

// Waiting is every recipient not yet delivered or bounced.
func (q QueueSummary) Waiting() int64 { return q.Queued + q.Deferred + q.Hold }

// QueueSummary counts the queue's waiting recipients (the web dashboard;
// super-admin only, as every queue tool).
func (s *Service) QueueSummary(ctx context.Context, a Actor) (QueueSummary, error) {
	if err := queueAllowed(a); err != nil {
		return QueueSummary{}, err
	}
	c, err := s.st.QueueCounts(ctx)
	if err != nil {
		return QueueSummary{}, err
	}
	return QueueSummary{Queued: c["queued"], Deferred: c["deferred"], Hold: c["hold"]}, nil
}
