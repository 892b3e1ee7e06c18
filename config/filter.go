package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Filter configures the content filter stage at the end of DATA (issue
// 14): the global Postfix-style rule tables, the milters, and which
// filters each listener runs. Per-domain rules, banned attachments and
// the spam and virus policies live in the database.
type Filter struct {
	HeaderChecks     string   `toml:"header_checks" help:"file of header rules (Postfix regexp_table syntax with RE2 expressions: /pattern/flags ACTION text) checked against each field of the message's header; empty: none"`
	MIMEHeaderChecks string   `toml:"mime_header_checks" help:"file of rules checked against the Content-* fields of every MIME part; empty: none"`
	BodyChecks       string   `toml:"body_checks" help:"file of rules checked against each line of the text parts (decoded, first 51200 bytes of each); empty: none"`
	Milters          []string `toml:"milters" help:"milters, consulted in order: name=inet:host:port or name=unix:/path, optionally followed by ?timeout=SECONDS&default=accept|tempfail"`
	MilterTimeout    int      `toml:"milter_timeout" help:"seconds each step of a milter conversation may take, unless the milter's entry says otherwise"`
	MilterDefault    string   `toml:"milter_default_action" help:"what a message gets when a milter cannot be reached or fails, unless its entry says otherwise: tempfail (451, the sender retries) or accept (unfiltered by it)"`
	SMTP             []string `toml:"smtp" help:"filters of the MX listener, in order: checks (the rules), attachments (banned attachments), and milter names; default: checks, attachments and every milter"`
	Submission       []string `toml:"submission" help:"filters of the submission listeners; default: checks, attachments and every milter"`
	MaxMIMEDepth     int      `toml:"max_mime_depth" help:"MIME nesting beyond which a message is refused (554 5.6.0)"`
	MaxMIMEParts     int      `toml:"max_mime_parts" help:"MIME parts beyond which a message is refused (554 5.6.0)"`
}

// MilterSpec is one entry of filter.milters, parsed.
type MilterSpec struct {
	Name    string
	Network string // tcp or unix
	Address string
	Timeout time.Duration
	Accept  bool // default action accept (else tempfail)
}

func defaultFilter() Filter {
	return Filter{MilterTimeout: 30, MilterDefault: "tempfail", MaxMIMEDepth: 30, MaxMIMEParts: 1000}
}

// MilterSpecs parses filter.milters; after Validate it does not fail.
func (f Filter) MilterSpecs() ([]MilterSpec, error) {
	var out []MilterSpec
	seen := map[string]bool{}
	for _, e := range f.Milters {
		m, err := f.parseMilter(e)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", e, err)
		}
		if m.Name == "checks" || m.Name == "attachments" || seen[m.Name] {
			return nil, fmt.Errorf("%q: the name %q is taken", e, m.Name)
		}
		seen[m.Name] = true
		out = append(out, m)
	}
	return out, nil
}

func (f Filter) parseMilter(e string) (MilterSpec, error) {
	name, rest, ok := strings.Cut(e, "=")
	if !ok || name == "" || strings.ContainsAny(name, " ,/:?") {
		return MilterSpec{}, fmt.Errorf("must be name=inet:host:port or name=unix:/path")
	}
	sock, query, _ := strings.Cut(rest, "?")
	m := MilterSpec{Name: name, Timeout: time.Duration(f.MilterTimeout) * time.Second, Accept: f.MilterDefault == "accept"}
	switch {
	case strings.HasPrefix(sock, "inet:"):
		m.Network, m.Address = "tcp", strings.TrimPrefix(sock, "inet:")
		if i := strings.LastIndexByte(m.Address, ':'); i <= 0 || i == len(m.Address)-1 {
			return MilterSpec{}, fmt.Errorf("inet: needs host:port")
		}
	case strings.HasPrefix(sock, "unix:"):
		m.Network, m.Address = "unix", strings.TrimPrefix(sock, "unix:")
		if !strings.HasPrefix(m.Address, "/") {
			return MilterSpec{}, fmt.Errorf("unix: needs an absolute path")
		}
	default:
		return MilterSpec{}, fmt.Errorf("the socket must start with inet: or unix:")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return MilterSpec{}, fmt.Errorf("options: %w", err)
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "timeout":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 3600 {
				return MilterSpec{}, fmt.Errorf("timeout must be from 1 to 3600 seconds, got %q", v)
			}
			m.Timeout = time.Duration(n) * time.Second
		case "default":
			if v != "accept" && v != "tempfail" {
				return MilterSpec{}, fmt.Errorf("default must be accept or tempfail, got %q", v)
			}
			m.Accept = v == "accept"
		default:
			return MilterSpec{}, fmt.Errorf("unknown option %q (timeout, default)", k)
		}
	}
	return m, nil
}

// finishFilter fills in the listeners' default filter lists: every
// filter there is.
func (c *Config) finishFilter() {
	def := []string{"checks", "attachments"}
	if specs, err := c.Filter.MilterSpecs(); err == nil {
		for _, m := range specs {
			def = append(def, m.Name)
		}
	}
	if c.Filter.SMTP == nil {
		c.Filter.SMTP = def
	}
	if c.Filter.Submission == nil {
		c.Filter.Submission = append([]string(nil), def...)
	}
}

func (c *Config) validateFilter(bad reporter) {
	f := c.Filter
	if f.MilterTimeout < 1 || f.MilterTimeout > 3600 {
		bad("filter.milter_timeout", "must be from 1 to 3600 seconds, got %d", f.MilterTimeout)
	}
	oneOf(bad, "filter.milter_default_action", f.MilterDefault, "tempfail", "accept")
	specs, err := f.MilterSpecs()
	if err != nil {
		bad("filter.milters", "%v", err)
	}
	names := map[string]bool{"checks": true, "attachments": true}
	for _, m := range specs {
		names[m.Name] = true
	}
	for key, list := range map[string][]string{"filter.smtp": f.SMTP, "filter.submission": f.Submission} {
		for _, n := range list {
			if !names[n] {
				bad(key, "unknown filter %q: checks, attachments or the name of a filter.milters entry", n)
			}
		}
	}
	if f.MaxMIMEDepth < 1 || f.MaxMIMEDepth > 1000 {
		bad("filter.max_mime_depth", "must be from 1 to 1000, got %d", f.MaxMIMEDepth)
	}
	if f.MaxMIMEParts < 1 || f.MaxMIMEParts > 100000 {
		bad("filter.max_mime_parts", "must be from 1 to 100000, got %d", f.MaxMIMEParts)
	}
}
