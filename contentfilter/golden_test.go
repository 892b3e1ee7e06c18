package contentfilter

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// describeWalk lists the parts the walker finds in msg, one line each.
func describeWalk(msg []byte) string {
	var b strings.Builder
	err := Walk(msg, Limits{}, func(p *Part) error {
		fmt.Fprintf(&b, "%s%s", strings.Repeat("  ", p.Depth), p.MediaType)
		if len(p.Filenames) > 0 {
			fmt.Fprintf(&b, " names=%q", p.Filenames)
		}
		if p.Multipart {
			b.WriteString(" multipart")
		}
		if p.Attached {
			b.WriteString(" attached")
		}
		fmt.Fprintf(&b, " body=%d\n", len(p.Body))
		return nil
	})
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	return b.String()
}

func describeResult(r Result) string {
	var b strings.Builder
	verb := string(r.Verb)
	if verb == "" {
		verb = "ACCEPT"
	}
	fmt.Fprintf(&b, "verdict: %s\n", verb)
	if r.Reason != "" {
		fmt.Fprintf(&b, "reason: %s\n", r.Reason)
	}
	if r.Verb == Reject {
		fmt.Fprintf(&b, "reply: %d %d.%d.%d %s\n", r.Reply.Code, r.Reply.Enhanced[0], r.Reply.Enhanced[1], r.Reply.Enhanced[2], r.Reply.Text)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

func goldenRules(t *testing.T) []*Rule {
	t.Helper()
	f, err := os.Open("testdata/rules.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rules []*Rule
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		kind, rest, _ := strings.Cut(line, " ")
		r, err := ParseRule(Kind(kind), rest)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		rules = append(rules, r)
	}
	return rules
}

// TestGolden walks every MIME fixture and runs the checks on it (the
// default banned list with ZIP archives looked into, and the rules of
// testdata/rules.txt), comparing with testdata/golden/NAME.txt.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/mime/*.eml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	checks := Checks{Rules: goldenRules(t), Banned: &Banned{Extensions: DefaultBannedExtensions,
		Types: DefaultBannedTypes, InsideZip: true}}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".eml")
		t.Run(name, func(t *testing.T) {
			msg, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := "parts:\n" + describeWalk(msg) + describeResult(checks.Check(msg))
			golden := filepath.Join("testdata/golden", name+".txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s:\ngot:\n%s\nwant:\n%s", name, got, want)
			}
		})
	}
}
