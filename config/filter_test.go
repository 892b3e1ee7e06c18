package config

import (
	"strings"
	"testing"
	"time"
)

// TestFilterMilters: the milter entries parse with their options, the
// listeners' lists default to every filter, and bad entries name the key.
func TestFilterMilters(t *testing.T) {
	c, err := load(t, "[filter]\nmilters = [\"rspamd=inet:127.0.0.1:11332\", \"clamav=unix:/run/clamav/milter.ctl?timeout=5&default=accept\"]\nsubmission = [\"attachments\", \"clamav\"]\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	specs, _ := c.Filter.MilterSpecs()
	want := []MilterSpec{{"rspamd", "tcp", "127.0.0.1:11332", 30 * time.Second, false}, {"clamav", "unix", "/run/clamav/milter.ctl", 5 * time.Second, true}}
	if len(specs) != 2 || specs[0] != want[0] || specs[1] != want[1] {
		t.Fatalf("specs %+v", specs)
	}
	if strings.Join(c.Filter.SMTP, " ") != "checks attachments rspamd clamav" || strings.Join(c.Filter.Submission, " ") != "attachments clamav" {
		t.Fatalf("smtp %v submission %v", c.Filter.SMTP, c.Filter.Submission)
	}
	for _, tc := range []struct{ file, want string }{
		{"[filter]\nmilters = [\"rspamd\"]\n", "name=inet:host:port"},
		{"[filter]\nmilters = [\"a=tcp:x:1\"]\n", "inet: or unix:"},
		{"[filter]\nmilters = [\"a=inet:x\"]\n", "host:port"},
		{"[filter]\nmilters = [\"a=unix:rel\"]\n", "absolute path"},
		{"[filter]\nmilters = [\"a=inet:x:1?timeout=0\"]\n", "timeout must be"},
		{"[filter]\nmilters = [\"a=inet:x:1?default=drop\"]\n", "default must be"},
		{"[filter]\nmilters = [\"a=inet:x:1\", \"a=inet:y:1\"]\n", "taken"},
		{"[filter]\nsmtp = [\"checks\", \"spamassassin\"]\n", "filter.smtp"},
		{"[filter]\nmilter_default_action = \"drop\"\n", "filter.milter_default_action"},
		{"[filter]\nmax_mime_depth = 0\n", "filter.max_mime_depth"},
	} {
		if _, err := load(t, tc.file, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.file, err, tc.want)
		}
	}
}
