package tlsrpt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"mailhost/dnsres"
	"mailhost/store"
)

// ReportStore is what the Sender reads and records.
type ReportStore interface {
	DueTLSReports(ctx context.Context, since, before time.Time) ([]store.TLSReportKey, error)
	ClaimTLSReport(ctx context.Context, k store.TLSReportKey) (bool, error)
	TLSReportCounts(ctx context.Context, k store.TLSReportKey) ([]store.TLSReportCount, error)
	FinishTLSReport(ctx context.Context, k store.TLSReportKey, outcome string) error
	PruneTLSReports(ctx context.Context, before time.Time) error
	STSPolicy(ctx context.Context, domain string) (store.STSPolicy, error)
}

var _ ReportStore = (*store.Store)(nil)

// TXTResolver looks up TXT records.
type TXTResolver interface {
	TXT(ctx context.Context, name string) ([]string, error)
}

// Mailer sends a report mail from from to the rua addresses (through the
// queue, DKIM-signed when from's domain is hosted, as RFC 8460 5.3 asks).
type Mailer func(ctx context.Context, from string, to []string, msg []byte) error

// Sender sends each day's reports once, from one node: the first node to
// claim a report sends it, the others skip it.
type Sender struct {
	Submitter Submitter
	From      string // the reports' sender address
	Store     ReportStore
	DNS       TXTResolver
	Mail      Mailer
	HTTP      *http.Client // for https: rua URIs; nil: a client with a 60 s timeout
	Log       *slog.Logger
	Now       func() time.Time
	// Every is how often due reports are looked for (default an hour);
	// Keep is how many days of counts are kept (default 14).
	Every time.Duration
	Keep  int
}

// maxAge is how far back an unsent day's report still goes out (a node
// that was down for a few days sends them when it is back).
const maxAge = 7 * 24 * time.Hour

// Serve sends due reports every Every until ctx ends.
func (s *Sender) Serve(ctx context.Context) error {
	every := s.Every
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// RunOnce sends the reports of past days not sent yet and prunes old
// counts.
func (s *Sender) RunOnce(ctx context.Context) {
	today := s.now().Truncate(24 * time.Hour)
	keys, err := s.Store.DueTLSReports(ctx, today.Add(-maxAge), today)
	if err != nil {
		s.Log.Warn("tls report: listing due reports", "err", err)
		return
	}
	for _, k := range keys {
		// The record is looked up before the claim: a temporary DNS
		// failure leaves the report unclaimed, for the next pass.
		rua, outcome, err := s.destinations(ctx, k.Domain)
		if err != nil {
			s.Log.Warn("tls report: looking up the TLSRPT record; trying again at the next pass",
				"domain", k.Domain, "day", k.Day.Format(time.DateOnly), "err", err)
			continue
		}
		claimed, err := s.Store.ClaimTLSReport(ctx, k)
		if err != nil || !claimed {
			continue // another node sends it (or the database is away: the next pass)
		}
		if outcome == "" {
			outcome = s.send(ctx, k, rua)
		}
		if err := s.Store.FinishTLSReport(ctx, k, outcome); err != nil {
			s.Log.Warn("tls report: recording the outcome", "domain", k.Domain, "err", err)
		}
		s.Log.Info("tls report", "domain", k.Domain, "day", k.Day.Format(time.DateOnly), "outcome", outcome)
	}
	keep := s.Keep
	if keep <= 0 {
		keep = 14
	}
	if err := s.Store.PruneTLSReports(ctx, today.AddDate(0, 0, -keep)); err != nil {
		s.Log.Warn("tls report: pruning", "err", err)
	}
}

// destinations reads domain's TLSRPT record (RFC 8460 3). A domain
// without a usable record gets the outcome "no TLSRPT record" (its report
// is settled, not sent); a lookup that failed is an error.
func (s *Sender) destinations(ctx context.Context, domain string) (RUA, string, error) {
	txts, err := s.DNS.TXT(ctx, "_smtp._tls."+domain)
	if err != nil && !isNotFound(err) {
		return RUA{}, "", err
	}
	rua, perr := ParseRecords(txts)
	if err != nil || perr != nil {
		return RUA{}, "no TLSRPT record", nil
	}
	return rua, "", nil
}

// send sends k's report to every rua and says what happened, one clause
// per destination.
func (s *Sender) send(ctx context.Context, k store.TLSReportKey, rua RUA) string {
	counts, err := s.Store.TLSReportCounts(ctx, k)
	if err != nil {
		return "reading counts: " + err.Error()
	}
	var policy string
	if p, err := s.Store.STSPolicy(ctx, k.Domain); err == nil {
		policy = p.Policy
	}
	r := Build(s.Submitter, k, counts, policy)
	gz, err := r.Gzip()
	if err != nil {
		return err.Error()
	}
	var said []string
	if len(rua.Mail) > 0 {
		err := s.mail(ctx, k, r, gz, rua.Mail)
		said = append(said, clause("mailto:"+strings.Join(rua.Mail, ","), err))
	}
	for _, u := range rua.HTTPS {
		said = append(said, clause(u, s.post(ctx, u, gz)))
	}
	return strings.Join(said, "; ")
}

func clause(dest string, err error) string {
	if err != nil {
		return dest + ": " + err.Error()
	}
	return dest + ": sent"
}

func (s *Sender) mail(ctx context.Context, k store.TLSReportKey, r Report, gz []byte, to []string) error {
	msg, err := Message(s.Submitter, s.From, to, k.Domain, r, gz, s.now())
	if err != nil {
		return err
	}
	return s.Mail(ctx, s.From, to, msg)
}

// post sends the report to an https rua (RFC 8460 5.4): a POST of the
// gzipped JSON; any 2xx is success.
func (s *Sender) post(ctx context.Context, url string, gz []byte) error {
	c := s.HTTP
	if c == nil {
		c = &http.Client{Timeout: time.Minute}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(gz))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/tlsrpt+gzip")
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", res.StatusCode)
	}
	return nil
}

// isNotFound says a lookup found no record (the domain asks for no
// reports) rather than failed.
func isNotFound(err error) bool {
	return errors.Is(err, dnsres.ErrNotFound) || errors.Is(err, dnsres.ErrNoData)
}
