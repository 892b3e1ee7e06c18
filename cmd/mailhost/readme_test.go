package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mailhost/testsupport"
)

// TestReadmeSnippets runs the README's ```sh blocks in order, as written,
// in a directory laid out as a clone after `make build` (bin/mailhost)
// while `make run` serves on the embedded default (its ports, a fresh
// data directory). The ```shell blocks (make setup, run, test) are what
// CI itself runs.
func TestReadmeSnippets(t *testing.T) {
	bash := testsupport.RequireTool(t, "bash", "bash")
	testsupport.RequireTool(t, "curl", "curl")
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?ms)^```sh\n(.*?)^```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) < 2 {
		t.Fatalf("the README has %d sh blocks", len(blocks))
	}
	clone := filepath.Dir(dataDir(t))
	if err := os.MkdirAll(filepath.Join(clone, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(clone, "bin", "mailhost")); err != nil {
		t.Fatal(err)
	}
	// make run: the embedded default, data in ./data of the clone.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "MAILHOST_") {
			env = append(env, kv)
		}
	}
	env = append(env, "MAILHOST_DATA_DIR="+filepath.Join(clone, "data"))
	srv := startServe(t, append(env, "MAILHOST_LISTEN_HTTP=127.0.0.1:8080"))
	defer srv.stop(t)
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, b := range blocks {
		script.WriteString(b[1])
	}
	cmd := exec.Command(bash, "-c", script.String())
	cmd.Dir, cmd.Env = clone, append(env, "MAILHOST_DATA_DIR=./data")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's snippets failed: %v\n%s\n--- script\n%s\n--- serve\n%s", err, out, script.String(), srv.log)
	}
	for _, want := range []string{`{"status":"ok","database":"ok"}`, "Subject: hello", "The first mail."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the snippets' output lacks %q:\n%s", want, out)
		}
	}
}
