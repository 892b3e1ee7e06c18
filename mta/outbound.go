package mta

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailhost/dnsres"
	"mailhost/mtasts"
	"mailhost/store"
)

// QueueStore is what the outbound workers need from the database.
// *store.Store satisfies it.
type QueueStore interface {
	ClaimQueue(ctx context.Context, owner string, c store.QueueClaim) ([]store.QueueJob, error)
	FinishQueue(ctx context.Context, owner string, f store.QueueFinish) ([]store.QueueJob, error)
	ReleaseQueue(ctx context.Context, owner string, ids []int64) error
	QueueCounts(ctx context.Context) (map[string]int64, error)
	STSCache
}

var _ QueueStore = (*store.Store)(nil)

// OutboundConfig configures the queue workers and the outbound client.
type OutboundConfig struct {
	Hostname string // EHLO name, Reporting-MTA of bounces
	NodeID   string // lease owner: unique per running process
	// Relayhost sends everything without a next hop of its own there
	// ("[host]:port" skips the MX lookup), with optional AUTH PLAIN.
	Relayhost, RelayUser, RelayPassword string
	TLSPolicy                           string // "none", "may" (default), "dane", "encrypt" or "verify" (outtls.go)
	// TLSDomains overrides TLSPolicy per recipient domain; a connection
	// for several domains uses the strictest of theirs.
	TLSDomains map[string]string
	// TLSReports takes every TLS result for RFC 8460 aggregate reports
	// (outtlsrpt.go); nil: only the metrics count them.
	TLSReports TLSReporter
	// RootCAs verify certificates under the policy verify, which a relay
	// host with AUTH always gets; nil: the system's roots.
	RootCAs         *x509.CertPool
	Retry           []time.Duration
	MaxLifetime     time.Duration
	DelayWarning    time.Duration // 0 = none
	Workers         int
	DestConcurrency int
	Lease           time.Duration
	Poll            time.Duration // how often an idle node looks for due work
	// DNS answers the MX, A and AAAA lookups; nil: the nameservers of
	// /etc/resolv.conf.
	DNS *dnsres.Resolver
	// Port is where MX hosts are contacted (25; tests use another).
	Port int
	// MTASTSPort is where MTA-STS policy hosts are asked (443; tests use
	// another).
	MTASTSPort                                  int
	ConnectTimeout, CommandTimeout, DataTimeout time.Duration
	// SRS rewrites the sender of copies forwarded by hosted addresses
	// the queue delivers (outlocal.go); nil: they keep the sender.
	SRS *SRS
	// DKIM signs bounces and delay notices (dkim.go); nil: none.
	DKIM Signer
	// ConnCache limits the reuse of connections (outcache.go); the zero
	// value reuses them with Postfix's limits.
	ConnCache ConnCacheConfig
}

func (c *OutboundConfig) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if len(c.Retry) == 0 {
		c.Retry = []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, 80 * time.Minute}
	}
	def(&c.MaxLifetime, store.QueueLifetime)
	def(&c.Lease, 10*time.Minute)
	def(&c.Poll, time.Second)
	// Postfix: smtp_connect_timeout 30s, smtp_*_timeout 300s, data 600s.
	def(&c.ConnectTimeout, 30*time.Second)
	def(&c.CommandTimeout, 5*time.Minute)
	def(&c.DataTimeout, 10*time.Minute)
	if c.Workers <= 0 {
		c.Workers = 20
	}
	if c.DestConcurrency <= 0 {
		c.DestConcurrency = 20
	}
	if c.Port == 0 {
		c.Port = 25
	}
	if c.TLSPolicy == "" {
		c.TLSPolicy = "may"
	}
}

// OutboundMetrics count the queue's work.
type OutboundMetrics struct {
	Deliveries     prometheus.Counter
	Deferrals      prometheus.Counter
	Bounces        prometheus.Counter
	DomainFailures *prometheus.CounterVec
	// TLSReport counts TLS sessions and policy fetches for TLS reporting
	// (outtlsrpt.go).
	TLSReport *prometheus.CounterVec
	// Connections counts the SMTP connections the queue opened,
	// ConnReuses the transactions it sent over a cached one instead
	// (outcache.go).
	Connections, ConnReuses prometheus.Counter
	queueSize               *prometheus.GaugeVec
}

// NewOutboundMetrics makes the collectors.
func NewOutboundMetrics() *OutboundMetrics {
	return &OutboundMetrics{
		Deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_queue_deliveries_total", Help: "Recipients delivered by the outbound queue."}),
		Deferrals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_queue_deferrals_total", Help: "Delivery attempts that failed temporarily (recipients)."}),
		Bounces: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_queue_bounces_total", Help: "Recipients returned to the sender (permanent failure or expiry)."}),
		DomainFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailhost_queue_domain_failures_total", Help: "Failed delivery attempts by destination domain and kind."},
			[]string{"domain", "kind"}),
		TLSReport: newTLSReportCounter(),
		Connections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_queue_connections_total", Help: "SMTP connections opened by the outbound queue."}),
		ConnReuses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_queue_connection_reuses_total", Help: "Transactions the outbound queue sent over a cached connection instead of a new one."}),
		queueSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailhost_queue_recipients", Help: "Recipients waiting in the queue (all nodes), by state."},
			[]string{"state"}),
	}
}

// Register adds the collectors to reg.
func (m *OutboundMetrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.Deliveries, m.Deferrals, m.Bounces, m.DomainFailures, m.TLSReport, m.Connections, m.ConnReuses, m.queueSize} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Outbound runs the queue workers of one node: claim due recipients,
// deliver them grouped by message and destination, record the results,
// return bounces.
type Outbound struct {
	cfg     OutboundConfig
	st      QueueStore
	log     *slog.Logger
	metrics *OutboundMetrics
	dns     *dnsres.Resolver
	wake    chan struct{}
	pool    workerPool // Serve's workers (outhandoff.go)
	// hard ends deliveries in progress when a shutdown's grace is over.
	hard       context.Context
	cancelHard context.CancelFunc

	local *localDelivery // nil: everything goes out by SMTP
	sts   *mtasts.Fetcher

	destMu sync.Mutex
	dest   map[string]chan struct{} // per-destination connection slots
	conns  *connCache               // idle connections (outcache.go)
}

// NewOutbound makes the workers; Serve runs them.
func NewOutbound(cfg OutboundConfig, st QueueStore, log *slog.Logger, m *OutboundMetrics) (*Outbound, error) {
	cfg.defaults()
	if m == nil {
		m = NewOutboundMetrics()
	}
	r := cfg.DNS
	if r == nil {
		var err error
		if r, err = dnsres.New(dnsres.Config{}); err != nil {
			return nil, err
		}
	}
	if cfg.NodeID == "" {
		cfg.NodeID = fmt.Sprintf("%s/%s", cfg.Hostname, randHex(6))
	}
	o := &Outbound{cfg: cfg, st: st, log: log, metrics: m, dns: r,
		wake: make(chan struct{}, 1), dest: map[string]chan struct{}{}, conns: newConnCache(cfg.ConnCache)}
	o.hard, o.cancelHard = context.WithCancel(context.Background())
	o.sts = o.newSTSFetcher()
	return o, nil
}

// Wake makes an idle worker look for work now (after a flush or a new
// message on this node that no worker was handed).
func (o *Outbound) Wake() {
	o.pool.woken.Add(1)
	o.signal()
}

// signal makes Serve's loop look for work for its idle workers.
func (o *Outbound) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// shutdownGrace is how long deliveries in progress may finish after
// shutdown begins; then their connections are closed and their recipients
// given back (delivered again later if the peer had taken them: at least
// once, never lost).
const shutdownGrace = 20 * time.Second

// claimRecipients is how many recipients a claim takes per worker at
// most (a message with more is delivered in several jobs).
const claimRecipients = 10

// Serve claims and delivers until ctx ends; deliveries in progress then
// get shutdownGrace to finish.
//
// Work is claimed only for a worker that starts on it at once: this loop
// claims one message per idle worker, and a worker that finishes claims
// its next message in the transaction that records its results. A
// claimed job never waits while its lease runs, so the attempt, measured
// from the claim, ends within the lease and no other node takes the
// recipients meanwhile. A message queued on this node is leased to its
// workers by its enqueue and handed to them after the commit, at most one
// waiting per worker (outhandoff.go): the attempt's deadline is timed
// from before the enqueue, so it too ends within the lease.
func (o *Outbound) Serve(ctx context.Context) error {
	o.log.Info("queue workers started", "node", o.cfg.NodeID, "workers", o.cfg.Workers)
	o.pool.start(ctx, o.cfg.Workers)
	defer func() {
		o.pool.stop()
		done := make(chan struct{})
		go func() { o.pool.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(shutdownGrace):
			o.cancelHard()
			<-done
		}
		o.cancelHard()
		o.releaseHanded()
		o.conns.closeAll()
	}()
	t := time.NewTicker(o.cfg.Poll)
	defer t.Stop()
	lastCount := time.Time{}
	poll := true // look in the queue, not only at the jobs handed over
	for {
		if time.Since(lastCount) > 10*time.Second {
			o.updateGauge(ctx)
			lastCount = time.Now()
		}
		// Only this loop takes slots, so that every job it claims has
		// its worker at once.
		if free := o.pool.take(o.cfg.Workers); free > 0 {
			jobs := o.takeHanded(free)
			if n := free - len(jobs); n > 0 && (poll || o.pool.backlog()) {
				jobs = append(jobs, o.claim(ctx, n)...)
			}
			o.pool.free(free - len(jobs))
			for _, j := range jobs {
				o.run(j)
			}
			if len(jobs) > 0 && ctx.Err() == nil {
				poll = false
				continue // more may be due for the workers still idle
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			poll = true
		case <-o.wake:
			poll = false
		}
	}
}

// claim leases work for free idle workers: at most one message each.
func (o *Outbound) claim(ctx context.Context, free int) []store.QueueJob {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	woken := o.pool.woken.Load()
	jobs, err := o.st.ClaimQueue(cctx, o.cfg.NodeID, o.nextClaim(free))
	if err != nil && ctx.Err() == nil {
		o.log.Error("queue: claim", "err", err)
	} else if err == nil {
		o.pool.claimed(woken, len(jobs))
	}
	return jobs
}

// nextClaim asks for work for n workers.
func (o *Outbound) nextClaim(n int) store.QueueClaim {
	return store.QueueClaim{Lease: o.cfg.Lease, Messages: n, PerMessage: claimRecipients}
}

// work is one worker: it delivers j, then the job it claimed when it
// recorded j's results, until there is none (or Serve is ending). It
// takes a job handed over by an enqueue first, and claims only while a
// claim may find work (workerPool.backlog), so that workers handed their
// messages as they are queued spend no claim that finds nothing; Serve's
// poll looks for the rest.
func (o *Outbound) work(ctx context.Context, j store.QueueJob) {
	for jobs := []store.QueueJob{j}; len(jobs) > 0; {
		j, jobs = jobs[0], jobs[1:]
		more := ctx.Err() == nil && len(jobs) == 0 && len(o.pool.handed) == 0 && o.pool.backlog()
		jobs = append(jobs, o.deliverMessage(j, more)...)
		if len(jobs) == 0 && ctx.Err() == nil {
			jobs = o.takeHanded(1)
		}
	}
}

// release gives back the leases of recipients not attempted, so that any
// node may take them at once.
func (o *Outbound) release(rcpts []store.QueueJobRecipient) {
	ids := make([]int64, len(rcpts))
	for i, r := range rcpts {
		ids[i] = r.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.st.ReleaseQueue(ctx, o.cfg.NodeID, ids); err != nil {
		o.log.Warn("queue: release", "err", err)
	}
}

func (o *Outbound) updateGauge(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	counts, err := o.st.QueueCounts(cctx)
	if err != nil {
		return
	}
	for k, v := range counts {
		o.metrics.queueSize.WithLabelValues(k).Set(float64(v))
	}
}

// destSlot takes a connection slot for a destination (the per-destination
// concurrency limit); the returned function gives it back. ok is false
// when ctx ended first.
func (o *Outbound) destSlot(ctx context.Context, dest string) (done func(), ok bool) {
	o.destMu.Lock()
	ch := o.dest[dest]
	if ch == nil {
		ch = make(chan struct{}, o.cfg.DestConcurrency)
		o.dest[dest] = ch
	}
	o.destMu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, true
	case <-ctx.Done():
		return nil, false
	}
}

// attempt is the outcome for one recipient.
type attempt struct {
	rcpt      store.QueueJobRecipient
	ok        bool
	permanent bool
	status    string // enhanced status code
	diag      string // "smtp; 550 5.1.1 ..." or a description of what failed
	remote    string // the host that answered, if any
	// action is, for a success, the report of success it is worth to a
	// recipient that asked for one (RFC 3461): "delivered" or "expanded"
	// here, "relayed" to a next hop without DSN; "" when the next hop
	// took the request on.
	action string
}

// route is where a group of recipients goes: a host list or an MX lookup.
type route struct {
	host    string // MX lookup of host unless literal
	port    int
	literal bool // [host]: no MX lookup
	auth    bool // relayhost with credentials
	own     bool // the MX hosts of the recipients' own domain (MTA-STS, TLS reporting)
}

// parseNextHop reads Postfix's next-hop forms: host, host:port, [host],
// [host]:port.
func parseNextHop(s string, defPort int) (route, error) {
	r := route{port: defPort}
	rest := s
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return r, fmt.Errorf("bad next hop %q", s)
		}
		r.host, r.literal, rest = s[1:end], true, s[end+1:]
	} else if i := strings.LastIndex(s, ":"); i >= 0 {
		r.host, rest = s[:i], s[i:]
	} else {
		r.host, rest = s, ""
	}
	if rest != "" {
		p, err := strconv.Atoi(strings.TrimPrefix(rest, ":"))
		if err != nil || p < 1 || p > 65535 || !strings.HasPrefix(rest, ":") {
			return r, fmt.Errorf("bad next hop %q", s)
		}
		r.port = p
	}
	if r.host == "" {
		return r, fmt.Errorf("bad next hop %q", s)
	}
	return r, nil
}

// routeFor picks the route of a recipient: its own next hop (relay domain
// or transport), else the relayhost, else the MX of its domain.
func (o *Outbound) routeFor(r store.QueueJobRecipient) (route, error) {
	switch {
	case r.NextHop != "":
		return parseNextHop(r.NextHop, 25)
	case o.cfg.Relayhost != "":
		rt, err := parseNextHop(o.cfg.Relayhost, 25)
		rt.auth = o.cfg.RelayUser != ""
		return rt, err
	}
	return route{host: r.Domain, port: o.cfg.Port, own: true}, nil
}

// attemptDeadline is when an attempt on j must end: half the lease after
// the claim (or the hand-off), so no other node takes its recipients
// while this one still works on them; the other half is for recording
// the results.
func (o *Outbound) attemptDeadline(j store.QueueJob) time.Time {
	return j.LeaseStart.Add(o.cfg.Lease / 2)
}

// deliverMessage makes one attempt for the claimed recipients of a
// message: one connection per destination for all its recipients. With
// more, it claims the worker's next job as it records the results.
func (o *Outbound) deliverMessage(j store.QueueJob, more bool) (next []store.QueueJob) {
	ctx, cancel := context.WithDeadline(o.hard, o.attemptDeadline(j))
	defer cancel()
	type group struct {
		rt    route
		rcpts []store.QueueJobRecipient
	}
	groups := map[string]*group{}
	var order []string
	var results []attempt
	for _, r := range j.Recipients {
		if a, ok := o.tryLocal(ctx, j, r); ok {
			results = append(results, a)
			continue
		}
		rt, err := o.routeFor(r)
		if err != nil {
			results = append(results, attempt{rcpt: r, permanent: true, status: "5.3.5", diag: "x-mailhost; " + err.Error()})
			continue
		}
		key := fmt.Sprintf("%s|%v|%d", rt.host, rt.literal, rt.port)
		g := groups[key]
		if g == nil {
			g = &group{rt: rt}
			groups[key] = g
			order = append(order, key)
		}
		g.rcpts = append(g.rcpts, r)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var untried []store.QueueJobRecipient // no connection slot in time
	for _, k := range order {
		g := groups[k]
		wg.Add(1)
		go func() {
			defer wg.Done()
			done, ok := o.destSlot(ctx, g.rt.host)
			if !ok {
				mu.Lock()
				untried = append(untried, g.rcpts...)
				mu.Unlock()
				return
			}
			res := o.deliverGroup(ctx, j, g.rt, g.rcpts)
			done()
			mu.Lock()
			results = append(results, res...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if o.hard.Err() != nil { // shut down mid-attempt: let the next run decide
		o.release(j.Recipients)
		return nil
	}
	if len(untried) > 0 {
		o.release(untried)
	}
	if len(results) == 0 {
		return nil
	}
	return o.finish(j, results, more)
}

// deliverGroup delivers a message to the recipients of one destination:
// the hosts in MX order, each address in turn, until one takes the
// transaction; connection failures and refusals before MAIL move on to the
// next host.
func (o *Outbound) deliverGroup(ctx context.Context, j store.QueueJob, rt route, rcpts []store.QueueJobRecipient) []attempt {
	all := func(perm bool, status, diag, remote string) []attempt {
		out := make([]attempt, len(rcpts))
		for i, r := range rcpts {
			out[i] = attempt{rcpt: r, permanent: perm, status: status, diag: diag, remote: remote}
		}
		return out
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	hosts := []string{rt.host}
	var err error
	if !rt.literal {
		var prefs []uint16
		if hosts, prefs, err = mxHostsPrefs(dctx, o.dns, rt.host); err == nil {
			hosts, err = withoutSelf(hosts, prefs, o.cfg.Hostname)
		}
	}
	cancel()
	switch {
	case errors.Is(err, errLoop):
		return all(true, "5.4.6", "x-mailhost; "+err.Error()+" ("+o.cfg.Hostname+" is the best MX of "+rt.host+")", "")
	case errors.Is(err, errNullMX):
		return all(true, "5.1.10", "x-mailhost; "+err.Error(), "") // RFC 7505 3
	case errors.Is(err, errNoDomain):
		return all(true, "5.1.2", "x-mailhost; "+err.Error()+": "+rt.host, "")
	case err != nil:
		return all(false, "4.4.3", "x-mailhost; DNS lookup failed: "+err.Error(), "")
	}
	lastTemp := all(false, "4.4.1", "x-mailhost; no host of "+rt.host+" answered", "")
	policy := o.tlsPolicy(rcpts, rt)
	var sts *mtasts.Policy
	if rt.own && policy != "none" {
		sctx, cancel := context.WithTimeout(ctx, stsFetchTimeout+30*time.Second)
		sts = o.stsPolicy(sctx, rt.host)
		cancel()
	}
	noAddr := 0
	for _, h := range hosts {
		if ctx.Err() != nil {
			break
		}
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ips, addrAuth, err := authHostAddrs(actx, o.dns, h)
		var check tlsCheck
		if err == nil {
			check, err = o.hostCheck(actx, rt, policy, sts, h, addrAuth)
		}
		cancel()
		if err != nil {
			var tf *tlsFailure
			if errors.Is(err, errNoDomain) {
				noAddr++
			} else if errors.As(err, &tf) {
				lastTemp = all(false, "4.7.5", "x-mailhost; "+err.Error(), "dns; "+h)
			} else {
				lastTemp = all(false, "4.4.3", "x-mailhost; DNS lookup of "+h+" failed: "+err.Error(), "")
			}
			continue
		}
		for _, ip := range ips {
			res, next := o.session(ctx, j, rt, h, net.JoinHostPort(ip, strconv.Itoa(rt.port)), rcpts, check)
			if !next {
				return res
			}
			lastTemp = res
		}
	}
	if noAddr == len(hosts) {
		return all(true, "5.1.2", "x-mailhost; Host or domain name not found: "+strings.Join(hosts, ", "), "")
	}
	return lastTemp
}

// session runs one SMTP transaction with one server address, over an idle
// connection made the same way if there is one (outcache.go), else a new
// one. next says the caller should try another address (the failure came
// before the transaction started).
func (o *Outbound) session(ctx context.Context, j store.QueueJob, rt route, host, addr string, rcpts []store.QueueJobRecipient,
	check tlsCheck) (_ []attempt, next bool) {
	remote := "dns; " + host
	withRemote := func(res []attempt) []attempt {
		for i := range res {
			if res[i].remote == "" && !res[i].ok {
				res[i].remote = remote
			}
		}
		return res
	}
	key := o.connKey(rt, host, addr, check)
	if c := o.conns.take(key); c != nil {
		c.attach(ctx)
		res, keep, stale := o.mailTx(c, j, host, rcpts, true)
		if !stale {
			o.metrics.ConnReuses.Inc()
			o.conns.release(c, keep)
			return withRemote(res), false
		}
		c.close()
		o.log.Info("queue: cached connection gone, opening a new one", "queue_id", j.QueueID, "queue_row", j.ID, "host", host, "addr", addr)
	}
	plain := false // retrying in clear after a failed TLS handshake
	for {
		o.makeRoom(rt.host)
		c, err := dialOut(ctx, addr, o.cfg.ConnectTimeout, o.cfg.CommandTimeout, o.cfg.DataTimeout)
		if err != nil {
			o.log.Info("queue: connect failed", "queue_id", j.QueueID, "queue_row", j.ID, "host", host, "addr", addr, "err", err)
			res := withRemote(failAll(rcpts, err))
			for i := range res {
				// A 5xx greeting moves on to the next MX and counts as
				// temporary (Postfix smtp_skip_5xx_greeting = yes).
				res[i].permanent = false
			}
			return res, true
		}
		o.metrics.Connections.Inc()
		c.key = key
		res, keep, retryPlain, next := o.transaction(ctx, c, j, rt, host, rcpts, check, plain)
		if retryPlain {
			c.close()
			plain = true
			o.log.Warn("queue: TLS handshake failed, retrying without TLS", "queue_id", j.QueueID, "queue_row", j.ID, "host", host)
			continue
		}
		// A connection in clear after a failed handshake is not kept: the
		// next message tries TLS again, as this one did.
		o.conns.release(c, keep && !plain)
		return withRemote(res), next
	}
}

func failure(r store.QueueJobRecipient, err error, remote string) attempt {
	var re *replyError
	if errors.As(err, &re) {
		return attempt{rcpt: r, permanent: re.permanent(), status: re.enhanced(),
			diag: fmt.Sprintf("smtp; %d %s", re.code, re.msg), remote: remote}
	}
	status := "4.4.2" // connection dropped
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		status = "4.4.2"
	} else if errors.Is(err, errTLSRequired) || errors.Is(err, errTLSFailed) {
		status = "4.7.5"
	}
	return attempt{rcpt: r, status: status, diag: "x-mailhost; " + err.Error(), remote: remote}
}

// failAll is the same failure for each of rcpts.
func failAll(rcpts []store.QueueJobRecipient, err error) []attempt {
	out := make([]attempt, len(rcpts))
	for i, r := range rcpts {
		out[i] = failure(r, err, "")
	}
	return out
}

// transaction sets up a new connection (EHLO, STARTTLS, AUTH) and sends
// the message (mailTx). keep says c may carry another message;
// retryPlain asks for a new connection without TLS (a failed handshake
// under a policy that allows it, not when plain already).
func (o *Outbound) transaction(ctx context.Context, c *outConn, j store.QueueJob, rt route, host string, rcpts []store.QueueJobRecipient,
	check tlsCheck, plain bool) (res []attempt, keep, retryPlain, next bool) {
	if err := c.ehloRaw(o.cfg.Hostname); err != nil {
		return failAll(rcpts, err), false, false, true
	}
	if err := o.startTLS(ctx, c, host, check, plain); err != nil {
		var re *replyError
		if !errors.As(err, &re) && !check.require && !plain {
			return nil, false, true, false // as Postfix: again, in clear
		}
		return failAll(rcpts, err), false, false, true
	}
	if rt.auth {
		// check is verify's here (tlsPolicy): the password goes only
		// over TLS whose certificate verified for host.
		if err := c.authPlain(o.cfg.RelayUser, o.cfg.RelayPassword); err != nil {
			return failAll(rcpts, err), false, false, false
		}
	}
	res, keep, _ = o.mailTx(c, j, host, rcpts, false)
	return res, keep, false, false
}

// mailTx sends the message to rcpts over c, a connection set up for them.
// keep says c may carry another message: the transaction ended with the
// reply to the message's end (but 421), or every recipient was refused
// and RSET answered 250. stale, only when reused, says MAIL found c gone
// (broken, timed out, 421): no message was sent, res is nil. When the
// peer offers PIPELINING, MAIL, every RCPT and DATA go in one write (RFC
// 2920; outpipe.go).
func (o *Outbound) mailTx(c *outConn, j store.QueueJob, host string, rcpts []store.QueueJobRecipient, reused bool) (res []attempt, keep, stale bool) {
	cmds, dsn := envelope(c, j, rcpts)
	c.uses++
	pipe := c.has("PIPELINING")
	errs := c.commands(cmds, pipe)
	mailErr, rcptErrs := errs[0], errs[1:1+len(rcpts)]
	var dataErr error // DATA's reply, when pipelined
	if pipe {
		dataErr = errs[len(errs)-1]
	}
	if mailErr != nil {
		if reused && gone(mailErr) {
			return nil, false, true
		}
		if pipe && dataErr == nil {
			c.body(nil) // 354 to DATA after a refused MAIL: end it empty
		}
		return failAll(rcpts, mailErr), false, false
	}
	var accepted []store.QueueJobRecipient
	for i, r := range rcpts {
		if err := rcptErrs[i]; err != nil {
			var re *replyError
			if !errors.As(err, &re) { // connection lost: everything is temporary
				return failAll(rcpts, err), false, false
			}
			res = append(res, failure(r, err, ""))
			continue
		}
		accepted = append(accepted, r)
	}
	if len(accepted) == 0 {
		return res, c.endRefused(pipe, dataErr), false
	}
	err := dataErr
	if !pipe {
		_, err = c.cmd("DATA", 354, "DATA")
	}
	if err == nil {
		err = c.body(j.Body)
	}
	if err != nil {
		for _, r := range accepted {
			res = append(res, failure(r, err, ""))
		}
		return res, ended(err), false
	}
	action := "relayed" // RFC 3461 5.2.2: the next hop does not report
	if dsn {
		action = ""
	}
	for _, r := range accepted {
		res = append(res, attempt{rcpt: r, ok: true, status: "2.0.0", remote: "dns; " + host, action: action})
	}
	return res, true, false
}

// ended says err, the failure of a message's sending, is a reply to its
// end but 421: the transaction is over, the connection can carry another.
func ended(err error) bool {
	var re *replyError
	return errors.As(err, &re) && re.stage == "end of DATA" && re.code != 421
}

// gone says err shows a connection that cannot take a command: it broke
// or timed out, or the server is closing it (421, RFC 5321 3.8).
func gone(err error) bool {
	var re *replyError
	return !errors.As(err, &re) || re.code == 421
}

func needsUTF8(j store.QueueJob, rcpts []store.QueueJobRecipient) bool {
	if !isASCII(j.Sender) {
		return true
	}
	for _, r := range rcpts {
		if !isASCII(r.Address) {
			return true
		}
	}
	return false
}

// xtext encodes a DSN parameter (RFC 3461 4).
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '+' || c == '=' {
			fmt.Fprintf(&b, "+%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
