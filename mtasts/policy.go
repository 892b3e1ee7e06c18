// Package mtasts reads SMTP MTA Strict Transport Security (RFC 8461):
// the "_mta-sts" TXT record that announces a policy, the policy file a
// domain serves over HTTPS, and the rule that says which MX hosts a
// policy allows. It fetches a policy (Fetcher) and leaves caching and
// enforcement to the caller (the outbound client, mta/outsts.go).
package mtasts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Mode is a policy's mode (RFC 8461 5).
type Mode string

// The modes: enforce refuses delivery to MX hosts that do not match or
// whose certificate does not verify; testing delivers anyway and reports;
// none says the domain has no policy (how a policy is withdrawn, 8.3).
const (
	Enforce Mode = "enforce"
	Testing Mode = "testing"
	None    Mode = "none"
)

// MaxAge is the largest max_age a policy may have: 31557600 s, a year
// (RFC 8461 3.2).
const MaxAge = 31557600

// Policy is a parsed policy file (RFC 8461 3.2).
type Policy struct {
	Mode   Mode
	MaxAge int      // seconds it may be cached
	MX     []string // patterns: "mx.example.com" or "*.example.com", lower case
}

// ParsePolicy reads a policy file: "key: value" lines ending in LF or
// CRLF; version STSv1, a mode, a max_age and, unless the mode is none, at
// least one mx. Unknown keys are skipped (extensions, 3.2).
func ParsePolicy(text string) (Policy, error) {
	var p Policy
	version, maxAge := false, false
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return Policy{}, fmt.Errorf("mta-sts policy: line %q is not key: value", line)
		}
		v = strings.TrimLeft(v, " \t")
		switch k {
		case "version":
			if v != "STSv1" {
				return Policy{}, fmt.Errorf("mta-sts policy: version %q, want STSv1", v)
			}
			version = true
		case "mode":
			switch m := Mode(v); m {
			case Enforce, Testing, None:
				p.Mode = m
			default:
				return Policy{}, fmt.Errorf("mta-sts policy: unknown mode %q", v)
			}
		case "max_age":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || len(v) > 10 || strings.TrimLeft(v, "0123456789") != "" {
				return Policy{}, fmt.Errorf("mta-sts policy: max_age %q is not a number of seconds", v)
			}
			p.MaxAge, maxAge = min(n, MaxAge), true
		case "mx":
			if !validPattern(v) {
				return Policy{}, fmt.Errorf("mta-sts policy: mx %q is not a host name or *.domain", v)
			}
			p.MX = append(p.MX, strings.ToLower(strings.TrimSuffix(v, ".")))
		}
	}
	switch {
	case !version:
		return Policy{}, errors.New("mta-sts policy: no version")
	case p.Mode == "":
		return Policy{}, errors.New("mta-sts policy: no mode")
	case !maxAge:
		return Policy{}, errors.New("mta-sts policy: no max_age")
	case len(p.MX) == 0 && p.Mode != None:
		return Policy{}, errors.New("mta-sts policy: no mx")
	}
	return p, nil
}

// validPattern says whether s is a host name, optionally with "*." in
// front (RFC 8461 3.2: the mx value).
func validPattern(s string) bool {
	s = strings.TrimPrefix(strings.TrimSuffix(s, "."), "*.")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Match says whether the MX host may receive mail under p (RFC 8461
// 4.1): it equals a pattern, or a "*." pattern covers exactly its first
// label. Case and a trailing dot do not matter.
func (p Policy) Match(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			if _, parent, ok := strings.Cut(host, "."); ok && parent == rest {
				return true
			}
		} else if host == pat {
			return true
		}
	}
	return false
}

// String is the policy as a policy file.
func (p Policy) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: STSv1\r\nmode: %s\r\n", p.Mode)
	for _, mx := range p.MX {
		fmt.Fprintf(&b, "mx: %s\r\n", mx)
	}
	fmt.Fprintf(&b, "max_age: %d\r\n", p.MaxAge)
	return b.String()
}
