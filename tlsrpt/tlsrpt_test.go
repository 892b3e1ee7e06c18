package tlsrpt_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhost/dnsres"
	"mailhost/dnstest"
	"mailhost/store"
	"mailhost/testdb"
	"mailhost/tlsrpt"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// RFC 8460 3: one v=TLSRPTv1 record; rua lists mailto: and https: URIs.
func TestParseRecords(t *testing.T) {
	for _, tc := range []struct {
		name string
		txts []string
		want tlsrpt.RUA
		err  bool
	}{
		{"mailto", []string{"v=TLSRPTv1; rua=mailto:reports@example.net"}, tlsrpt.RUA{Mail: []string{"reports@example.net"}}, false},
		{"both, spaces", []string{"v=TLSRPTv1;rua=mailto:a@example.net, https://r.example.net/tlsrpt"},
			tlsrpt.RUA{Mail: []string{"a@example.net"}, HTTPS: []string{"https://r.example.net/tlsrpt"}}, false},
		{"other TXT records ignored", []string{"v=spf1 -all", "v=TLSRPTv1; rua=https://r.example.net/"},
			tlsrpt.RUA{HTTPS: []string{"https://r.example.net/"}}, false},
		{"two records are as none", []string{"v=TLSRPTv1; rua=mailto:a@example.net", "v=TLSRPTv1; rua=mailto:b@example.net"}, tlsrpt.RUA{}, true},
		{"no rua", []string{"v=TLSRPTv1"}, tlsrpt.RUA{}, true},
		{"another version is no record", []string{"v=TLSRPTv10; rua=mailto:a@example.net", "v=TLSRPTv1 ; rua=mailto:b@example.net"},
			tlsrpt.RUA{Mail: []string{"b@example.net"}}, false},
		{"only unknown schemes", []string{"v=TLSRPTv1; rua=http://r.example.net/"}, tlsrpt.RUA{}, true},
		{"none", nil, tlsrpt.RUA{}, true},
	} {
		got, err := tlsrpt.ParseRecords(tc.txts)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, %v; want %+v (error %v)", tc.name, got, err, tc.want, tc.err)
		}
	}
}

// env is a database, a DNS server and an HTTPS rua endpoint.
type env struct {
	st    *store.Store
	dns   *dnstest.Server
	https *httptest.Server
	mu    sync.Mutex
	posts [][]byte // bodies posted to the https rua
	types []string // their content types
	mails []sentMail
}

type sentMail struct {
	from string
	to   []string
	msg  []byte
}

func newEnv(t *testing.T) *env {
	st, err := store.Open(context.Background(), testdb.New(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	e := &env{st: st}
	e.https = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.posts, e.types = append(e.posts, b), append(e.types, r.Header.Get("Content-Type"))
		e.mu.Unlock()
	}))
	t.Cleanup(e.https.Close)
	e.dns = dnstest.Start(t,
		`_smtp._tls.example.net. 60 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.net,`+e.https.URL+`/report"`,
		`_mta-sts.example.net. 60 IN TXT "v=STSv1; id=1"`)
	return e
}

func (e *env) sender(t *testing.T, now time.Time) *tlsrpt.Sender {
	res, err := dnsres.New(dnsres.Config{Servers: []string{e.dns.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	return &tlsrpt.Sender{
		Submitter: tlsrpt.Submitter{Organization: "Example Hosting", Contact: "postmaster@mail.example.org", Host: "mail.example.org"},
		From:      "tlsrpt@example.org", Store: e.st, DNS: res, HTTP: e.https.Client(), Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return now },
		Mail: func(_ context.Context, from string, to []string, msg []byte) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.mails = append(e.mails, sentMail{from, to, msg})
			return nil
		},
	}
}

// recordSession counts one successful session to example.net on day.
func (e *env) recordSession(t *testing.T, day time.Time) {
	t.Helper()
	rec := &tlsrpt.Recorder{Store: e.st, Now: func() time.Time { return day }}
	rec.Add("example.net", "no-policy-found", "mx.example.net", "192.0.2.1", "successful")
	rec.Flush(context.Background())
}

// A day's results, counted by two nodes' recorders, go out the next day
// as one report to the domain's mailto and https rua: the mail is a
// multipart/report with RFC 8460's subject and fields, and both carry the
// same gzipped JSON summing both nodes; a domain without a record gets
// none; a second pass sends nothing again.
func TestDailyReport(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.st.SaveSTSPolicy(ctx, store.STSPolicy{Domain: "example.net", ID: "1", Mode: "enforce", MaxAge: 86400,
		MX: []string{"mx.example.net"}, Policy: "version: STSv1\nmode: enforce\nmx: mx.example.net\nmax_age: 86400\n"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	yesterday := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	for node := range 2 {
		rec := &tlsrpt.Recorder{Store: e.st, Now: func() time.Time { return yesterday }}
		for range 3 {
			rec.Add("example.net", "sts", "mx.example.net", "192.0.2.1", "successful")
		}
		rec.Add("example.net", "sts", "mx.example.net", "192.0.2.2", "certificate-expired")
		rec.Add("other.example", "no-policy-found", "mx.other.example", "192.0.2.9", "successful")
		if node == 0 {
			rec.Add("example.net", "sts", "", "", "sts-policy-fetch-error")
		}
		rec.Flush(ctx)
	}
	today := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	e.sender(t, today).RunOnce(ctx)

	if len(e.mails) != 1 || len(e.posts) != 1 {
		t.Fatalf("%d mails and %d posts, want one of each", len(e.mails), len(e.posts))
	}
	m := e.mails[0]
	if m.from != "tlsrpt@example.org" || !reflect.DeepEqual(m.to, []string{"tlsrpt@example.net"}) {
		t.Errorf("mail from %s to %v", m.from, m.to)
	}
	fromMail := reportOfMail(t, m.msg)
	if e.types[0] != "application/tlsrpt+gzip" {
		t.Errorf("POST content type %q", e.types[0])
	}
	fromPost := gunzipReport(t, e.posts[0])
	if !reflect.DeepEqual(fromMail, fromPost) {
		t.Errorf("the mail's report and the POST's differ:\n%+v\n%+v", fromMail, fromPost)
	}
	r := fromMail
	if r.OrganizationName != "Example Hosting" || r.ContactInfo != "postmaster@mail.example.org" ||
		r.ReportID != "2026-12-02_example.net@mail.example.org" ||
		!r.DateRange.Start.Equal(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)) ||
		!r.DateRange.End.Equal(time.Date(2026, 12, 2, 23, 59, 59, 0, time.UTC)) {
		t.Errorf("report header: %+v", r)
	}
	want := []tlsrpt.PolicyReport{{
		Policy: tlsrpt.Policy{Type: "sts", Domain: "example.net", MXHost: []string{"mx.example.net"},
			String: []string{"version: STSv1", "mode: enforce", "mx: mx.example.net", "max_age: 86400"}},
		Summary: tlsrpt.Summary{Successful: 6, Failed: 3},
		FailureDetails: []tlsrpt.FailureDetail{
			{ResultType: "sts-policy-fetch-error", FailedSessionCount: 1},
			{ResultType: "certificate-expired", ReceivingMXHostname: "mx.example.net", ReceivingIP: "192.0.2.2", FailedSessionCount: 2},
		},
	}}
	if !reflect.DeepEqual(r.Policies, want) {
		t.Errorf("policies:\n%+v\nwant\n%+v", r.Policies, want)
	}

	var outcome string
	if err := e.st.Pool().QueryRow(ctx, `SELECT outcome FROM tls_reports WHERE domain = 'example.net'`).Scan(&outcome); err != nil {
		t.Fatal(err)
	}
	if want := "mailto:tlsrpt@example.net: sent; " + e.https.URL + "/report: sent"; outcome != want {
		t.Errorf("outcome %q, want %q", outcome, want)
	}
	if err := e.st.Pool().QueryRow(ctx, `SELECT outcome FROM tls_reports WHERE domain = 'other.example'`).Scan(&outcome); err != nil || outcome != "no TLSRPT record" {
		t.Errorf("other.example: %q, %v", outcome, err)
	}
	e.sender(t, today.Add(time.Hour)).RunOnce(ctx)
	if len(e.mails) != 1 || len(e.posts) != 1 {
		t.Errorf("a second pass sent again: %d mails, %d posts", len(e.mails), len(e.posts))
	}
}

// Nodes sending at the same moment send each report once.
func TestReportSentOnceByParallelNodes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	day := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	e.recordSession(t, day)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { e.sender(t, day.Add(24*time.Hour)).RunOnce(ctx) })
	}
	wg.Wait()
	if len(e.mails) != 1 || len(e.posts) != 1 {
		t.Errorf("8 nodes sent %d mails and %d posts, want one of each", len(e.mails), len(e.posts))
	}
}

// failingDNS answers every lookup with a temporary failure.
type failingDNS struct{}

func (failingDNS) TXT(context.Context, string) ([]string, error) {
	return nil, errors.New("read udp 127.0.0.1:53: i/o timeout")
}

// A temporary DNS failure leaves the day's report unclaimed: nothing is
// recorded for it, and the next pass sends it.
func TestDNSFailureRetriedNextPass(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	day := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	e.recordSession(t, day)
	failing := e.sender(t, day.Add(24*time.Hour))
	failing.DNS = failingDNS{}
	failing.RunOnce(ctx)
	var n int
	if err := e.st.Pool().QueryRow(ctx, `SELECT count(*) FROM tls_reports`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after a DNS failure: %d report rows (%v), want none", n, err)
	}
	e.sender(t, day.Add(25*time.Hour)).RunOnce(ctx)
	if len(e.mails) != 1 || len(e.posts) != 1 {
		t.Errorf("the pass after the failure sent %d mails and %d posts, want one of each", len(e.mails), len(e.posts))
	}
}

// Counts older than keep_days are pruned; today's are not reported yet.
func TestTodayWaitsAndOldCountsGo(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, d := range []time.Time{now, now.AddDate(0, 0, -20)} {
		e.recordSession(t, d)
	}
	e.sender(t, now).RunOnce(ctx)
	if len(e.mails) != 0 {
		t.Errorf("%d mails: today's report went out before the day ended, or a 20-day-old one", len(e.mails))
	}
	var days []time.Time
	rows, _ := e.st.Pool().Query(ctx, `SELECT DISTINCT day FROM tls_report_counts`)
	for rows.Next() {
		var d time.Time
		rows.Scan(&d)
		days = append(days, d)
	}
	if len(days) != 1 || !days[0].Equal(now.Truncate(24*time.Hour)) {
		t.Errorf("days kept: %v, want only today", days)
	}
}

// reportOfMail checks the mail's form (RFC 8460 5.3) and returns its
// report.
func reportOfMail(t *testing.T, msg []byte) tlsrpt.Report {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Header
	if got, want := h.Get("Subject"), "Report Domain: example.net Submitter: mail.example.org Report-ID: <2026-12-02_example.net@mail.example.org>"; got != want {
		t.Errorf("Subject %q, want %q", got, want)
	}
	if h.Get("TLS-Report-Domain") != "example.net" || h.Get("TLS-Report-Submitter") != "mail.example.org" {
		t.Errorf("TLS-Report fields: %v", h)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "tlsrpt" {
		t.Fatalf("Content-Type %q", h.Get("Content-Type"))
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	if p, err := mr.NextPart(); err != nil || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("first part: %v %v", p, err)
	}
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if p.Header.Get("Content-Type") != "application/tlsrpt+gzip" ||
		!strings.Contains(p.Header.Get("Content-Disposition"), `filename="mail.example.org!example.net!1796169600!1796255999!20261202.json.gz"`) {
		t.Errorf("attachment header: %v", p.Header)
	}
	b64, _ := io.ReadAll(p)
	gz, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(b64), "\r\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	return gunzipReport(t, gz)
}

func gunzipReport(t *testing.T, gz []byte) tlsrpt.Report {
	t.Helper()
	z, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	var r tlsrpt.Report
	if err := json.NewDecoder(z).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}
