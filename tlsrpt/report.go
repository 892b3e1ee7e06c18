// Package tlsrpt sends SMTP TLS reports (RFC 8460): the outbound queue's
// TLS results are counted per day in PostgreSQL by every node (Recorder),
// and once a day one node sends each destination domain that publishes a
// "_smtp._tls" record the previous day's aggregate report, by mail or
// HTTPS (Sender).
package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"mailhost/store"
)

// Report is an aggregate report (RFC 8460 4.4).
type Report struct {
	OrganizationName string         `json:"organization-name"`
	DateRange        DateRange      `json:"date-range"`
	ContactInfo      string         `json:"contact-info"`
	ReportID         string         `json:"report-id"`
	Policies         []PolicyReport `json:"policies"`
}

// DateRange is the report's period.
type DateRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// PolicyReport is the results under one policy (4.4: "policies").
type PolicyReport struct {
	Policy         Policy          `json:"policy"`
	Summary        Summary         `json:"summary"`
	FailureDetails []FailureDetail `json:"failure-details,omitempty"`
}

// Policy describes the policy applied (4.3.1).
type Policy struct {
	Type   string   `json:"policy-type"` // sts, tlsa, no-policy-found
	String []string `json:"policy-string,omitempty"`
	Domain string   `json:"policy-domain"`
	MXHost []string `json:"mx-host,omitempty"`
}

// Summary counts the sessions (4.3: "summary").
type Summary struct {
	Successful int64 `json:"total-successful-session-count"`
	Failed     int64 `json:"total-failure-session-count"`
}

// FailureDetail is one kind of failure (4.3.2).
type FailureDetail struct {
	ResultType          string `json:"result-type"`
	ReceivingMXHostname string `json:"receiving-mx-hostname,omitempty"`
	ReceivingIP         string `json:"receiving-ip,omitempty"`
	FailedSessionCount  int64  `json:"failed-session-count"`
}

// successful is the result the Recorder counts for a session without a
// failure.
const successful = "successful"

// Submitter is who sends the reports.
type Submitter struct {
	Organization string // organization-name
	Contact      string // contact-info
	Host         string // the submitter (the MTA's host name)
}

// Build makes the report of one day (UTC) for domain from its counts;
// stsPolicy is the domain's MTA-STS policy as served (its lines become
// the sts policy-string), "" when unknown.
func Build(sub Submitter, k store.TLSReportKey, counts []store.TLSReportCount, stsPolicy string) Report {
	start := k.Day.UTC()
	r := Report{OrganizationName: sub.Organization, ContactInfo: sub.Contact,
		DateRange: DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)},
		ReportID:  fmt.Sprintf("%s_%s@%s", start.Format(time.DateOnly), k.Domain, sub.Host)}
	byPolicy := map[string]*PolicyReport{}
	for _, c := range counts {
		p := byPolicy[c.Policy]
		if p == nil {
			p = &PolicyReport{Policy: Policy{Type: c.Policy, Domain: k.Domain}}
			if c.Policy == "sts" {
				p.Policy.String, p.Policy.MXHost = stsLines(stsPolicy)
			}
			byPolicy[c.Policy] = p
		}
		if c.Result == successful {
			p.Summary.Successful += c.Sessions
			continue
		}
		p.Summary.Failed += c.Sessions
		p.FailureDetails = append(p.FailureDetails, FailureDetail{ResultType: c.Result,
			ReceivingMXHostname: c.MXHost, ReceivingIP: c.ReceivingIP, FailedSessionCount: c.Sessions})
	}
	for _, p := range byPolicy {
		r.Policies = append(r.Policies, *p)
	}
	sort.Slice(r.Policies, func(i, j int) bool { return r.Policies[i].Policy.Type < r.Policies[j].Policy.Type })
	return r
}

// stsLines are a policy file's lines (4.3.1: "policy-string") and its mx
// patterns.
func stsLines(policy string) (lines, mx []string) {
	for _, l := range strings.Split(strings.ReplaceAll(policy, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		lines = append(lines, l)
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "mx" {
			mx = append(mx, strings.TrimSpace(v))
		}
	}
	return lines, mx
}

// Gzip is the report as sent: JSON, gzip-compressed (5.3:
// application/tlsrpt+gzip).
func (r Report) Gzip() ([]byte, error) {
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	if err := json.NewEncoder(z).Encode(r); err != nil {
		return nil, fmt.Errorf("tlsrpt: encode report: %w", err)
	}
	if err := z.Close(); err != nil {
		return nil, fmt.Errorf("tlsrpt: compress report: %w", err)
	}
	return b.Bytes(), nil
}

// FileName is the report's file name (5.1): submitter, policy domain,
// start and end as Unix times, and a unique id.
func (r Report) FileName(sub Submitter, domain string) string {
	return fmt.Sprintf("%s!%s!%d!%d!%s.json.gz", sub.Host, domain, r.DateRange.Start.Unix(), r.DateRange.End.Unix(),
		r.DateRange.Start.Format("20060102"))
}
