package contentfilter

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"unicode"
)

// Kind says what a rule is matched against (Postfix header_checks,
// mime_header_checks, body_checks).
type Kind string

// The kinds of rules.
const (
	// KindHeader rules see each field of the message's own header as one
	// unfolded "Name: value" line.
	KindHeader Kind = "header"
	// KindMIMEHeader rules see the Content-* fields of every MIME part,
	// the message's own included, at any depth.
	KindMIMEHeader Kind = "mime_header"
	// KindBody rules see each line of the text parts (text/*, and a
	// message without MIME), transfer encoding undone and in UTF-8, the
	// first BodyCheckBytes of each part.
	KindBody Kind = "body"
)

// BodyCheckBytes is how much of each text part body rules read, as
// Postfix's body_checks_size_limit.
const BodyCheckBytes = 51200

// Verb is a rule's action (Postfix header_checks(5)).
type Verb string

// The actions of a rule.
const (
	Reject   Verb = "REJECT"   // refuse the message: 550 5.7.1 with the rule's text
	Discard  Verb = "DISCARD"  // accept and drop it
	Hold     Verb = "HOLD"     // accept it into the queue's hold state
	Warn     Verb = "WARN"     // log only
	Ignore   Verb = "IGNORE"   // remove the matched header field (header rules)
	Prepend  Verb = "PREPEND"  // add the rule's text as a header field before the matched one (header rules)
	Redirect Verb = "REDIRECT" // deliver to the rule's address instead of the recipients
)

// Rule is one line of a rule table: /regexp/flags ACTION [text].
type Rule struct {
	Kind    Kind
	Source  string // the line as written, for logs and the panel
	Negate  bool   // !/regexp/: the rule matches lines the expression does not
	Verb    Verb
	Text    string // REJECT/DISCARD/HOLD/WARN text, PREPEND's field, REDIRECT's address
	Pattern *regexp.Regexp
}

// Matches reports whether the rule applies to line.
func (r *Rule) Matches(line string) bool {
	return r.Pattern.MatchString(line) != r.Negate
}

// ParseRule reads one rule in Postfix's regexp_table(5) syntax with RE2
// expressions: "/pattern/flags ACTION [text]", or "!/pattern/..." for a
// negated match. Any character may delimit the pattern. Expressions are
// case-insensitive by default; the flag "i" makes them case-sensitive,
// as in Postfix; the only other flag is "m" (RE2's multi-line mode).
// IGNORE and PREPEND are for header rules only.
func ParseRule(kind Kind, line string) (*Rule, error) {
	src := strings.TrimSpace(line)
	r := &Rule{Kind: kind, Source: src}
	s := src
	if strings.HasPrefix(s, "!") {
		r.Negate, s = true, s[1:]
	}
	if s == "" {
		return nil, fmt.Errorf("empty rule")
	}
	delim := s[0]
	if delim == ' ' || delim == '\\' || delim >= 0x80 || unicode.IsLetter(rune(delim)) || unicode.IsDigit(rune(delim)) {
		return nil, fmt.Errorf("a rule starts with /pattern/, got %q", firstWord(s))
	}
	end := closingDelim(s, delim)
	if end < 0 {
		return nil, fmt.Errorf("pattern has no closing %c", delim)
	}
	pat := s[1:end]
	rest := s[end+1:]
	flags := rest
	if i := strings.IndexAny(rest, " \t"); i >= 0 {
		flags, rest = rest[:i], strings.TrimSpace(rest[i:])
	} else {
		rest = ""
	}
	insensitive, multi := true, false
	for _, f := range flags {
		switch f {
		case 'i':
			insensitive = !insensitive
		case 'm':
			multi = true
		default:
			return nil, fmt.Errorf("unknown flag %q after the pattern (i and m are allowed)", f)
		}
	}
	prefix := ""
	if insensitive {
		prefix += "i"
	}
	if multi {
		prefix += "m"
	}
	if prefix != "" {
		pat = "(?" + prefix + ")" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	r.Pattern = re
	if err := r.parseAction(rest); err != nil {
		return nil, err
	}
	return r, nil
}

// closingDelim finds the delimiter that ends the pattern, skipping
// escaped ones.
func closingDelim(s string, delim byte) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case delim:
			return i
		}
	}
	return -1
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

func (r *Rule) parseAction(s string) error {
	verb, text, _ := strings.Cut(s, " ")
	r.Verb, r.Text = Verb(strings.ToUpper(verb)), strings.TrimSpace(text)
	switch r.Verb {
	case Reject, Discard, Hold, Warn:
	case Ignore:
		if r.Kind != KindHeader {
			return fmt.Errorf("IGNORE is for header rules only")
		}
	case Prepend:
		if r.Kind != KindHeader {
			return fmt.Errorf("PREPEND is for header rules only")
		}
		name, _, ok := strings.Cut(r.Text, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return fmt.Errorf("PREPEND needs a header field, such as \"X-Tag: value\"")
		}
	case Redirect:
		if !strings.Contains(r.Text, "@") || strings.ContainsAny(r.Text, " \t<>") {
			return fmt.Errorf("REDIRECT needs an address, such as \"abuse@example.com\"")
		}
	case "":
		return fmt.Errorf("the pattern needs an action (REJECT, DISCARD, HOLD, WARN, IGNORE, PREPEND or REDIRECT)")
	default:
		return fmt.Errorf("unknown action %q (REJECT, DISCARD, HOLD, WARN, IGNORE, PREPEND or REDIRECT)", verb)
	}
	return nil
}

// ReadRules reads a rule table: one rule a line, blank lines and lines
// starting with # ignored, a line starting with white space continuing
// the one before (regexp_table(5)). Errors name the line.
func ReadRules(kind Kind, r io.Reader) ([]*Rule, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var out []*Rule
	var cur string
	curLine, n := 0, 0
	flush := func() error {
		if strings.TrimSpace(cur) == "" {
			return nil
		}
		rule, err := ParseRule(kind, cur)
		if err != nil {
			return fmt.Errorf("line %d: %w", curLine, err)
		}
		out = append(out, rule)
		return nil
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			continue
		case line[0] == ' ' || line[0] == '\t':
			cur += " " + trimmed
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		cur, curLine = line, n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// LoadRules reads the rule table in the file at path; "" is no rules.
func LoadRules(kind Kind, path string) ([]*Rule, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rules, err := ReadRules(kind, f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rules, nil
}
