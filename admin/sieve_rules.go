package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"mailhost/address"
)

// FilterRule is one rule of the panel's filter form: if a part of the
// message matches, do something. The rules are stored as a Sieve script
// (RulesScriptName), each rule written after a "# rule:" comment that
// holds it, so the form can be rebuilt from the script.
type FilterRule struct {
	Field  string `json:"field"`  // from, to, subject, header, size
	Header string `json:"header"` // the header field's name, for "header"
	Match  string `json:"match"`  // contains, is, matches; over, under (size)
	Value  string `json:"value"`
	Action string `json:"action"` // move, copy, flag, read, forward, discard, reject
	Target string `json:"target"` // folder, address or reject text
}

// RulesScriptName is the script the panel's rules are stored in.
const RulesScriptName = "panel-rules"

const rulePrefix = "# rule: "

// sieveString writes s as a Sieve quoted string.
func sieveString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// checkRule validates rule i into f, field names rules[i].field...
func checkRule(f *fields, i int, r *FilterRule) {
	name := func(s string) string { return fmt.Sprintf("rules[%d].%s", i, s) }
	switch r.Field {
	case "from", "to", "subject":
	case "header":
		if !validHeaderName(r.Header) {
			f.add(name("header"), "must be a header field name such as List-Id")
		}
	case "size":
		if r.Match != "over" && r.Match != "under" {
			f.add(name("match"), "must be over or under for the size")
		}
		if _, err := parseSize(r.Value); err != nil {
			f.add(name("value"), "must be a size such as 500K or 2M")
		}
	default:
		f.add(name("field"), "must be from, to, subject, header or size")
	}
	if r.Field != "size" {
		switch r.Match {
		case "contains", "is", "matches":
		default:
			f.add(name("match"), "must be contains, is or matches")
		}
		if r.Value == "" {
			f.add(name("value"), "is required")
		}
	}
	switch r.Action {
	case "move", "copy":
		if r.Target == "" || strings.ContainsAny(r.Target, "\r\n") {
			f.add(name("target"), "must name a folder")
		}
	case "forward":
		n, err := address.Normalize(r.Target)
		if err != nil {
			f.add(name("target"), "must be an email address")
		} else {
			r.Target = n
		}
	case "reject":
		if r.Target == "" {
			f.add(name("target"), "is the text of the refusal")
		}
	case "flag", "read", "discard":
	default:
		f.add(name("action"), "must be move, copy, flag, read, forward, discard or reject")
	}
}

func validHeaderName(s string) bool {
	if s == "" || len(s) > 76 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 127 || s[i] == ':' {
			return false
		}
	}
	return true
}

// parseSize reads 500, 500K, 2M, 1G.
func parseSize(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	if n := len(s); n > 0 && strings.ContainsRune("KMG", rune(s[n-1])) {
		mult = map[byte]int64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}[s[n-1]]
		s = s[:n-1]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > 1<<40/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return v * mult, nil
}

// RulesScript writes the rules as a Sieve script.
func RulesScript(rules []FilterRule) string {
	var b strings.Builder
	b.WriteString("# Rules of the mailhost panel; edit them there, or edit this script as text.\n")
	b.WriteString("require [\"fileinto\", \"imap4flags\", \"copy\", \"reject\", \"mailbox\"];\n")
	for _, r := range rules {
		j, _ := json.Marshal(r)
		b.WriteString("\n" + rulePrefix + string(j) + "\n")
		b.WriteString("if " + ruleTest(r) + " {\n    " + ruleAction(r) + "\n}\n")
	}
	return b.String()
}

func ruleTest(r FilterRule) string {
	switch r.Field {
	case "size":
		n, _ := parseSize(r.Value)
		return fmt.Sprintf("size :%s %d", r.Match, n)
	case "from", "to":
		names := `"from"`
		if r.Field == "to" {
			names = `["to", "cc"]`
		}
		return fmt.Sprintf("address :%s %s %s", r.Match, names, sieveString(r.Value))
	case "subject":
		return fmt.Sprintf("header :%s \"subject\" %s", r.Match, sieveString(r.Value))
	}
	return fmt.Sprintf("header :%s %s %s", r.Match, sieveString(r.Header), sieveString(r.Value))
}

func ruleAction(r FilterRule) string {
	switch r.Action {
	case "move":
		return "fileinto :create " + sieveString(r.Target) + ";"
	case "copy":
		return "fileinto :copy :create " + sieveString(r.Target) + ";"
	case "flag":
		return `addflag "\\Flagged";`
	case "read":
		return `addflag "\\Seen";`
	case "forward":
		return "redirect " + sieveString(r.Target) + ";"
	case "reject":
		return "reject " + sieveString(r.Target) + "; stop;"
	}
	return "discard; stop;"
}

// ParseRules reads the rules back from a script RulesScript wrote; ok is
// false when the script holds none (written or edited as text).
func ParseRules(script string) (rules []FilterRule, ok bool) {
	for _, line := range strings.Split(script, "\n") {
		j, found := strings.CutPrefix(strings.TrimRight(line, "\r"), rulePrefix)
		if !found {
			continue
		}
		var r FilterRule
		if json.Unmarshal([]byte(j), &r) == nil {
			rules = append(rules, r)
		}
	}
	return rules, len(rules) > 0
}

// SetOwnFilterRules stores the owner's rules as the RulesScriptName script
// and makes it the active one. A bad rule is a field error
// rules[i].field...
func (s *Service) SetOwnFilterRules(ctx context.Context, o Owner, rules []FilterRule) (SieveScriptView, error) {
	var f fields
	for i := range rules {
		checkRule(&f, i, &rules[i])
	}
	if err := f.err(); err != nil {
		return SieveScriptView{}, err
	}
	content := RulesScript(rules)
	v, err := s.SetOwnSieveScript(ctx, o, RulesScriptName, SieveScriptInput{Content: &content})
	if err != nil {
		return SieveScriptView{}, err
	}
	return v, s.ActivateOwnSieveScript(ctx, o, RulesScriptName)
}
