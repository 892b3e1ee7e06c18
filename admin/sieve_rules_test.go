package admin

import (
	"reflect"
	"strings"
	"testing"

	"mailhost/sieve"
)

func TestRulesScriptRoundTrip(t *testing.T) {
	rules := []FilterRule{
		{Field: "from", Match: "contains", Value: "boss@", Action: "flag"},
		{Field: "subject", Match: "matches", Value: `*"news"*`, Action: "move", Target: "Lists/News"},
		{Field: "header", Header: "List-Id", Match: "contains", Value: "x", Action: "copy", Target: "Archive"},
		{Field: "size", Match: "over", Value: "2M", Action: "reject", Target: "Too big"},
		{Field: "to", Match: "is", Value: "a@b.example", Action: "forward", Target: "c@d.example"},
		{Field: "subject", Match: "is", Value: "spam", Action: "discard"},
		{Field: "subject", Match: "contains", Value: "read me", Action: "read"},
	}
	var f fields
	for i := range rules {
		checkRule(&f, i, &rules[i])
	}
	if err := f.err(); err != nil {
		t.Fatal(err)
	}
	script := RulesScript(rules)
	if _, err := sieve.Compile(script, sieve.Options{}); err != nil {
		t.Fatalf("generated script does not compile: %v\n%s", err, script)
	}
	back, ok := ParseRules(script)
	if !ok || !reflect.DeepEqual(back, rules) {
		t.Fatalf("rules back: %+v", back)
	}
	if _, ok := ParseRules("keep;"); ok {
		t.Fatal("rules found in a hand-written script")
	}
}

func TestCheckRule(t *testing.T) {
	for _, tc := range []struct {
		r    FilterRule
		want string
	}{
		{FilterRule{Field: "body", Match: "is", Value: "x", Action: "flag"}, "rules[0].field"},
		{FilterRule{Field: "size", Match: "contains", Value: "x", Action: "flag"}, "rules[0].match"},
		{FilterRule{Field: "from", Match: "is", Value: "", Action: "flag"}, "rules[0].value"},
		{FilterRule{Field: "from", Match: "is", Value: "x", Action: "forward", Target: "nobody"}, "rules[0].target"},
		{FilterRule{Field: "header", Header: "Bad Name", Match: "is", Value: "x", Action: "flag"}, "rules[0].header"},
	} {
		var f fields
		checkRule(&f, 0, &tc.r)
		if err := f.err(); err == nil || !strings.Contains(err.(*ValidationError).Fields[0].Field, tc.want) {
			t.Errorf("%+v: got %v, want an error on %s", tc.r, err, tc.want)
		}
	}
}
