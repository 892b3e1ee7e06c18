package pgcluster

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mailhost/testsupport"
)

func TestMissingBinariesSayWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := findBinaries(filepath.Join(t.TempDir(), "*", "bin"))
	if !errors.Is(err, ErrNoBinaries) || !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Fatalf("err = %v", err)
	}
}

func TestFindBinariesOnThisMachine(t *testing.T) {
	dir, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	if !hasServer(dir) {
		t.Fatalf("%s lacks the server programs", dir)
	}
}

func TestSocketDirFallsBackWhenPathTooLong(t *testing.T) {
	short := "/srv/mail/data/postgres"
	if socketDir(short) != short {
		t.Errorf("short dir moved to %s", socketDir(short))
	}
	long := "/" + strings.Repeat("d", 120)
	got := socketDir(long)
	if len(got)+len("/.s.PGSQL.5432") > 107 || got != socketDir(long) {
		t.Errorf("socket dir for a long path = %q", got)
	}
}

// testOwner is an unprivileged account to run the cluster as under root.
func testOwner(t *testing.T) Owner {
	if os.Geteuid() != 0 {
		return Owner{}
	}
	u, err := user.Lookup("postgres")
	if err != nil { // the account comes with the server package
		testsupport.Missing(t, "the postgres account", "postgresql")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return Owner{UID: uint32(uid), GID: uint32(gid)}
}

// The first user starts the server, a second joins it, and only the last
// one to leave stops it; a second start reuses the initialised cluster.
func TestSharedUseAndReuse(t *testing.T) {
	base, err := os.MkdirTemp("", "pgcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts := Options{Dir: filepath.Join(base, "pg"), RunAs: testOwner(t), Settings: map[string]string{"fsync": "off"}}
	a, err := Acquire(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Started() {
		t.Error("first user did not start the server")
	}
	b, err := Acquire(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if b.Started() {
		t.Error("second user started a server that was running")
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if !b.running(ctx) {
		t.Fatal("server stopped while a user remained")
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if b.running(ctx) {
		t.Fatal("server still running after the last user left")
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid left behind: %v", err)
	}
	stamp, _ := os.Stat(filepath.Join(opts.Dir, "PG_VERSION"))
	c, err := Acquire(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release(ctx)
	again, _ := os.Stat(filepath.Join(opts.Dir, "PG_VERSION"))
	if !c.Started() || !again.ModTime().Equal(stamp.ModTime()) {
		t.Error("restart did not reuse the initialised cluster")
	}
	if !strings.Contains(c.URL("mailhost"), "host=") {
		t.Errorf("URL %q does not name the socket dir", c.URL("mailhost"))
	}
}

// With SocketDir, an account other than the cluster's owner can connect:
// a root test run whose mailhost has switched to vmail still reaches it.
func TestSocketDirReachableByOtherAccounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	psql := testsupport.RequireTool(t, "psql", "postgresql")
	base, err := os.MkdirTemp("", "pgcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := Acquire(ctx, Options{Dir: filepath.Join(base, "pg"), SocketDir: filepath.Join(base, "sock"),
		RunAs: testOwner(t), Settings: map[string]string{"fsync": "off"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release(ctx)
	out, err := exec.Command("runuser", "-u", "nobody", "--", psql, c.URL("postgres"), "-Atc", "SELECT 42").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "42" {
		t.Fatalf("psql as nobody: %v %s", err, out)
	}
}
