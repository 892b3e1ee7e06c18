package admin

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailhost/dnsres"
)

// Resolver is what the DNS page's check and the DKIM rotation ask
// (*dnsres.Resolver, the one resolver).
type Resolver interface {
	MX(ctx context.Context, domain string) ([]dnsres.MX, error)
	TXT(ctx context.Context, name string) ([]string, error)
	IPs(ctx context.Context, host string) ([]netip.Addr, error)
	CNAME(ctx context.Context, name string) (string, error)
	SRV(ctx context.Context, name string) ([]dnsres.SRV, error)
}

// MailDNS is what the DNS page and the MTA-STS policy say of this
// installation.
type MailDNS struct {
	Hostname     string        // the MX host, the submission, IMAP and POP3 server, the policy host's target
	MTASTSMode   string        // testing, enforce or none (no policy)
	MTASTSMaxAge int           // seconds
	DKIMGrace    time.Duration // how long a replaced key stays published
	// Services are the RFC 6186 (and RFC 8314) client services: those
	// not offered are published as such (target ".").
	Services []ClientService
}

// ClientService is a client service of the SRV records.
type ClientService struct {
	Name    string // "submission", "imaps", ...
	Port    uint16
	Offered bool
}

// The verdicts of a record's check.
const (
	VerdictOK      = "ok"      // found as expected
	VerdictMissing = "missing" // no such record (NXDOMAIN or NODATA)
	VerdictWrong   = "wrong"   // records found, none as expected
	VerdictError   = "error"   // the lookup failed (try again later)
)

// DNSRecord is one record a domain needs.
type DNSRecord struct {
	Purpose string `json:"purpose"` // what it is for: "MX", "SPF", "DKIM rsa (active)", ...
	Name    string `json:"name"`    // the owner name, without the trailing dot
	Type    string `json:"type"`    // MX, TXT, CNAME, SRV
	Value   string `json:"value"`   // the data as the record's text (TXT unquoted)
	Zone    string `json:"zone"`    // the record as a zone-file line
	// Check is the live check, when asked for.
	Check *DNSCheck `json:"check,omitempty"`

	match func(found string) bool
}

// DNSCheck is what DNS answered for a record.
type DNSCheck struct {
	Verdict string   `json:"verdict"` // ok, missing, wrong, error
	Found   []string `json:"found"`   // the records of that name and type found
}

// DNSPage is the records a domain needs.
type DNSPage struct {
	Domain  string      `json:"domain"`
	Checked bool        `json:"checked"`
	Records []DNSRecord `json:"records"`
}

// DomainDNS returns the records domain needs as zone-file lines and,
// with check, what DNS answers for each. Super-admins and the domain's
// admins may see it.
func (s *Service) DomainDNS(ctx context.Context, a Actor, domain string, check bool) (DNSPage, error) {
	tx := s.st.Read()
	d, err := s.domainFor(ctx, tx, a, domain, false)
	if err != nil {
		return DNSPage{}, err
	}
	keys, err := tx.DKIMKeys(ctx, d.ID)
	if err != nil {
		return DNSPage{}, err
	}
	views := make([]DKIMKeyView, len(keys))
	for i, k := range keys {
		views[i] = dkimKeyView(k)
	}
	page := DNSPage{Domain: d.Name, Records: s.dnsRecords(d.Name, d.Kind, views)}
	if check {
		if s.opts.Resolver == nil {
			return DNSPage{}, newErr(Unavailable, "no DNS resolver is configured for checks")
		}
		s.checkRecords(ctx, page.Records)
		page.Checked = true
	}
	return page, nil
}

// dnsRecords lists what domain needs. Every TXT value is compared with
// white space around its ";" ignored.
func (s *Service) dnsRecords(domain, kind string, keys []DKIMKeyView) []DNSRecord {
	c := s.opts.DNS
	host := strings.ToLower(c.Hostname)
	var out []DNSRecord
	add := func(purpose, name, typ, value string, match func(string) bool) {
		out = append(out, DNSRecord{Purpose: purpose, Name: name, Type: typ, Value: value,
			Zone: ZoneLine(name, typ, value), match: match})
	}
	sameHost := func(got string) bool { return strings.EqualFold(strings.TrimSuffix(got, "."), host) }
	add("MX", domain, "MX", "10 "+host+".", sameHost)
	if kind != "local" {
		return out // a relay domain: we are its (backup) MX only
	}
	txt := func(purpose, name, value string) {
		add(purpose, name, "TXT", value, func(got string) bool { return normTXT(got) == normTXT(value) })
	}
	txt("SPF", domain, "v=spf1 mx -all")
	for _, k := range keys {
		add("DKIM "+k.Algorithm+" ("+k.State+")", k.Name, "TXT", k.Record, func(got string) bool {
			return dkimRecordMatches(got, k.Algorithm, k.key)
		})
	}
	txt("DMARC", "_dmarc."+domain, "v=DMARC1; p=quarantine; rua=mailto:postmaster@"+domain)
	if c.MTASTSMode != "none" {
		_, id := s.mtaSTSPolicy()
		txt("MTA-STS", "_mta-sts."+domain, "v=STSv1; id="+id)
		add("MTA-STS policy host", "mta-sts."+domain, "CNAME", host+".", sameHost)
	}
	txt("TLS reporting", "_smtp._tls."+domain, "v=TLSRPTv1; rua=mailto:postmaster@"+domain)
	for _, sv := range c.Services {
		value := "0 0 0 ." // RFC 6186 3.4: not offered
		if sv.Offered {
			value = "0 1 " + strconv.Itoa(int(sv.Port)) + " " + host + "."
		}
		add("client setup: "+sv.Name, "_"+sv.Name+"._tcp."+domain, "SRV", value, func(got string) bool { return got == value })
	}
	add("client autoconfiguration", "autoconfig."+domain, "CNAME", host+".", sameHost)
	return out
}

// ZoneLine is a record as a zone-file line (RFC 1035 5.1); a TXT value is
// quoted in strings of at most 255 octets (RFC 1035 3.3.14).
func ZoneLine(name, typ, value string) string {
	if typ == "TXT" {
		var parts []string
		for len(value) > 255 {
			parts = append(parts, value[:255])
			value = value[255:]
		}
		parts = append(parts, value)
		for i, p := range parts {
			parts[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p) + `"`
		}
		value = strings.Join(parts, " ")
	}
	return name + ". 3600 IN " + typ + " " + value
}

// normTXT is a tag list with the white space around its separators
// removed and no empty tags.
func normTXT(s string) string {
	var tags []string
	for _, t := range strings.Split(s, ";") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return strings.Join(tags, ";")
}

// checkRecords looks every record up at once and sets its Check.
func (s *Service) checkRecords(ctx context.Context, recs []DNSRecord) {
	var wg sync.WaitGroup
	for i := range recs {
		wg.Add(1)
		go func(r *DNSRecord) {
			defer wg.Done()
			found, err := s.lookup(ctx, r)
			v, found := verdict(err, found, r.match)
			r.Check = &DNSCheck{Verdict: v, Found: found}
		}(&recs[i])
	}
	wg.Wait()
}

// lookup asks DNS for the records of r's name and type, as text
// comparable with r.Value by r.match.
func (s *Service) lookup(ctx context.Context, r *DNSRecord) ([]string, error) {
	res := s.opts.Resolver
	switch r.Type {
	case "MX":
		mxs, err := res.MX(ctx, r.Name)
		if errors.Is(err, dnsres.ErrNullMX) {
			return []string{"."}, nil
		}
		out := make([]string, len(mxs))
		for i, mx := range mxs {
			out[i] = mx.Host
		}
		return out, err
	case "TXT":
		txts, err := res.TXT(ctx, r.Name)
		if strings.Contains(r.Name, "._domainkey.") {
			return txts, err // a key record's v= is optional (RFC 6376 3.6.1)
		}
		return relevantTXT(txts, r.Value), err
	case "SRV":
		srvs, err := res.SRV(ctx, r.Name)
		out := make([]string, len(srvs))
		for i, v := range srvs {
			t := v.Target
			if t != "." {
				t += "."
			}
			out[i] = strconv.Itoa(int(v.Priority)) + " " + strconv.Itoa(int(v.Weight)) + " " + strconv.Itoa(int(v.Port)) + " " + t
		}
		return out, err
	default: // CNAME to our host name, or addresses of our host
		target, err := res.CNAME(ctx, r.Name)
		if err == nil {
			return []string{target}, nil
		}
		if !errors.Is(err, dnsres.ErrNoData) {
			return nil, err
		}
		return s.sameAddresses(ctx, r.Name)
	}
}

// sameAddresses answers for a name with addresses instead of a CNAME:
// the host name itself when they are the server's, else the addresses.
func (s *Service) sameAddresses(ctx context.Context, name string) ([]string, error) {
	got, err := s.opts.Resolver.IPs(ctx, name)
	if err != nil {
		return nil, err
	}
	ours, err := s.opts.Resolver.IPs(ctx, s.opts.DNS.Hostname)
	if err != nil && !errors.Is(err, dnsres.ErrNotFound) && !errors.Is(err, dnsres.ErrNoData) {
		return nil, err
	}
	out := make([]string, len(got))
	for i, ip := range got {
		if slices.Contains(ours, ip) {
			return []string{s.opts.DNS.Hostname}, nil
		}
		out[i] = ip.String()
	}
	return out, nil
}

// relevantTXT keeps the TXT records of the same kind as want (the same
// first tag, such as v=spf1): a domain's other TXT records are not
// wrong SPF records.
func relevantTXT(txts []string, want string) []string {
	kind, _, _ := strings.Cut(want, ";")
	kind = strings.Fields(kind)[0]
	var out []string
	for _, t := range txts {
		if f := strings.Fields(strings.ReplaceAll(t, ";", " ")); len(f) > 0 && strings.EqualFold(f[0], kind) {
			out = append(out, t)
		}
	}
	return out
}

// verdict judges a lookup: its error, the records found and which would
// do. It returns the verdict and the records found ([] rather than nil).
func verdict(err error, found []string, match func(string) bool) (string, []string) {
	if found == nil {
		found = []string{}
	}
	switch {
	case errors.Is(err, dnsres.ErrNotFound), errors.Is(err, dnsres.ErrNoData):
		return VerdictMissing, found
	case err != nil:
		return VerdictError, found
	case len(found) == 0:
		return VerdictMissing, found
	case slices.ContainsFunc(found, match):
		return VerdictOK, found
	}
	return VerdictWrong, found
}
