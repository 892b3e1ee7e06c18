package mta

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the SMTP server's counters on /metrics.
type Metrics struct {
	Connections     prometheus.Counter
	Accepted        prometheus.Counter
	Rejected        *prometheus.CounterVec
	Bytes           prometheus.Counter
	DeliveryLatency prometheus.Histogram
}

// NewMetrics makes the collectors; Register adds them to a registry.
func NewMetrics() *Metrics {
	return &Metrics{
		Connections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_smtp_connections_total", Help: "SMTP connections accepted on the MX listener."}),
		Accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_smtp_messages_accepted_total", Help: "Messages accepted (answered 250 at the end of DATA)."}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailhost_smtp_rejected_total", Help: "Commands and messages refused, by reason."}, []string{"reason"}),
		Bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_smtp_received_bytes_total", Help: "Bytes of accepted messages, with the headers added."}),
		DeliveryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mailhost_delivery_seconds", Help: "Time from the end of DATA to the 250: durable delivery and queueing.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
	}
}

// Register adds the collectors to reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.Connections, m.Accepted, m.Rejected, m.Bytes, m.DeliveryLatency} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
