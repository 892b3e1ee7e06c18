package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailhost/config"
)

// TestFilterStageRuleFiles: the rule files are read at start; a bad line
// stops serve with the key and the line named; an empty filter list is
// no stage.
func TestFilterStageRuleFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "header_checks")
	bad := filepath.Join(dir, "body_checks")
	os.WriteFile(good, []byte("# spam\n/^Subject: win/ REJECT\n"), 0o644)
	os.WriteFile(bad, []byte("/ok/ WARN\n/(/ HOLD\n"), 0o644)
	cfg := config.Default()
	cfg.Filter.HeaderChecks = good
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if s, err := newFilterStage(&cfg, nil, log, []string{"checks"}, false); err != nil || s == nil || !s.Active() {
		t.Fatalf("stage %v, err %v", s, err)
	}
	if s, err := newFilterStage(&cfg, nil, log, nil, false); err != nil || s != nil {
		t.Fatalf("empty list: stage %v, err %v", s, err)
	}
	cfg.Filter.BodyChecks = bad
	_, err := newFilterStage(&cfg, nil, log, []string{"checks"}, false)
	if err == nil || !strings.Contains(err.Error(), "filter.body_checks") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err %v, want the key and line 2", err)
	}
}
