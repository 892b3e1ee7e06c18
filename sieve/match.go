package sieve

import (
	"regexp"
	"strconv"
	"strings"
)

// comparator is one of the comparators of RFC 4790 a script may name.
type comparator int

const (
	cmpCasemap comparator = iota // i;ascii-casemap, the default (RFC 5228 2.7.3)
	cmpOctet                     // i;octet
	cmpNumeric                   // i;ascii-numeric (RFC 4790 9.1)
)

type matchKind int

const (
	mIs matchKind = iota
	mContains
	mMatches
	mRegex
	mValue // RFC 5231
	mCount
)

// relational operators of RFC 5231 section 5.
var relOps = map[string]bool{"gt": true, "ge": true, "lt": true, "le": true, "eq": true, "ne": true}

// matcher holds a test's comparator, match type and keys.
type matcher struct {
	kind matchKind
	rel  string
	cmp  comparator
	keys []sval
	// re holds the compiled patterns of :matches and :regex keys that are
	// constant; nil entries are compiled at run time.
	re []*regexp.Regexp
}

// numericValue reads i;ascii-numeric's value: the leading digits, or
// infinity (ok false) when the string does not start with a digit.
func numericValue(s string) (digits string, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return "", false
	}
	d := strings.TrimLeft(s[:i], "0")
	return d, true
}

// order compares a and b under the comparator: -1, 0 or 1.
func (c comparator) order(a, b string) int {
	switch c {
	case cmpNumeric:
		da, oka := numericValue(a)
		db, okb := numericValue(b)
		switch {
		case !oka && !okb:
			return 0
		case !oka:
			return 1
		case !okb:
			return -1
		case len(da) != len(db):
			if len(da) < len(db) {
				return -1
			}
			return 1
		}
		return strings.Compare(da, db)
	case cmpCasemap:
		return strings.Compare(asciiLower(a), asciiLower(b))
	}
	return strings.Compare(a, b)
}

func relHolds(rel string, o int) bool {
	switch rel {
	case "gt":
		return o > 0
	case "ge":
		return o >= 0
	case "lt":
		return o < 0
	case "le":
		return o <= 0
	case "eq":
		return o == 0
	}
	return o != 0 // ne
}

// globRegexp turns a :matches pattern into an anchored regular expression
// with one group per wildcard, each '*' as short as it can be, so that
// ${1}... read as RFC 5229 3.2 shows ("[*] *" on "[a] [b] c" gives "a").
func globRegexp(pat string, cmp comparator) (*regexp.Regexp, error) {
	if cmp == cmpCasemap {
		pat = asciiLower(pat)
	}
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '*':
			b.WriteString(`(.*?)`)
		case '?':
			b.WriteString(`(.)`)
		case '\\':
			if i+1 < len(pat) {
				i++
			}
			b.WriteString(regexp.QuoteMeta(pat[i : i+1]))
		default:
			b.WriteString(regexp.QuoteMeta(pat[i : i+1]))
		}
	}
	b.WriteString(`$`)
	return regexp.Compile(b.String())
}

// keyRegexp compiles key i of a :matches or :regex matcher.
func (m *matcher) keyRegexp(key string) (*regexp.Regexp, error) {
	if m.kind == mMatches {
		return globRegexp(key, m.cmp)
	}
	if m.cmp == cmpCasemap {
		key = "(?i)" + key
	}
	return regexp.Compile(key)
}

// match reports whether any of values matches any key, and the match
// variables of the first success of :matches or :regex.
func (m *matcher) match(r *run, values []string) (bool, []string, error) {
	if m.kind == mCount {
		n := strconv.Itoa(len(values))
		for _, k := range m.keys {
			if relHolds(m.rel, m.cmp.order(n, r.expand(k))) {
				return true, nil, nil
			}
		}
		return false, nil, nil
	}
	for i, k := range m.keys {
		key := r.expand(k)
		var re *regexp.Regexp
		if m.kind == mMatches || m.kind == mRegex {
			if i < len(m.re) && m.re[i] != nil {
				re = m.re[i]
			} else {
				var err error
				if re, err = m.keyRegexp(key); err != nil {
					return false, nil, runtimeErr("bad pattern %q: %v", key, err)
				}
			}
		}
		for _, v := range values {
			if err := r.tick(); err != nil {
				return false, nil, err
			}
			if re != nil {
				subject := v
				if m.kind == mMatches && m.cmp == cmpCasemap {
					subject = asciiLower(v)
				}
				loc := re.FindStringSubmatchIndex(subject)
				if loc == nil {
					continue
				}
				vars := make([]string, 0, len(loc)/2)
				for j := 0; j+1 < len(loc); j += 2 {
					if loc[j] < 0 {
						vars = append(vars, "")
						continue
					}
					vars = append(vars, v[loc[j]:loc[j+1]])
				}
				if m.kind == mMatches {
					vars[0] = v // ${0} is the whole value (RFC 5229 3.2)
				}
				return true, vars, nil
			}
			if m.simple(v, key) {
				return true, nil, nil
			}
		}
	}
	return false, nil, nil
}

// simple evaluates :is, :contains and :value.
func (m *matcher) simple(v, key string) bool {
	switch m.kind {
	case mContains:
		if m.cmp == cmpCasemap {
			return strings.Contains(asciiLower(v), asciiLower(key))
		}
		return strings.Contains(v, key)
	case mValue:
		return relHolds(m.rel, m.cmp.order(v, key))
	}
	return m.cmp.order(v, key) == 0
}
