package auth

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Authenticator's Prometheus series.
type metrics struct {
	failures *prometheus.CounterVec
	logins   *prometheus.CounterVec
	blocked  *prometheus.CounterVec
	refused  *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailhost_auth_failures_total", Help: "Failed logins (wrong user or password, inactive account), by protocol.",
		}, []string{"protocol"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailhost_auth_logins_total", Help: "Successful logins, by protocol.",
		}, []string{"protocol"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailhost_auth_blocked_total", Help: "Blocks imposed after too many failed logins, by what was blocked (ip or account).",
		}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailhost_auth_throttled_total", Help: "Logins refused without a password check because the client address or the account was blocked or had too many checks in flight.",
		}, []string{"reason"}),
	}
}

// blocksCollector reports the blocks running now (from the ThrottleStore,
// so every node reports the cluster's blocks) at each scrape.
type blocksCollector struct {
	st    ThrottleStore
	clock Clock
	desc  *prometheus.Desc
}

func newBlocksCollector(st ThrottleStore, clock Clock) *blocksCollector {
	return &blocksCollector{st: st, clock: clock, desc: prometheus.NewDesc("mailhost_auth_blocks",
		"Login blocks running now, by what is blocked (ip or account).", []string{"reason"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *blocksCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *blocksCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := c.st.LoginBlocks(ctx, c.clock.Now())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	n := map[string]float64{"ip": 0, "account": 0}
	for _, r := range list {
		n[reasonOf(r.Key)]++
	}
	for reason, v := range n {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, reason)
	}
}

func (a *Authenticator) collectors() []prometheus.Collector {
	m, h := a.m, a.guard.hashes
	return []prometheus.Collector{m.failures, m.logins, m.blocked, m.refused,
		h.total, h.running, h.busy, newBlocksCollector(a.guard.st, a.clock)}
}
