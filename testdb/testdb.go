// Package testdb gives tests a real, migrated PostgreSQL database of their
// own: on the server named by $DATABASE_URL when set (make test sets it to a
// throwaway cluster), else on a private cluster this test binary starts.
// Each test package gets a migrated template database; each test that asks
// gets a fresh copy of it, dropped when the test ends.
package testdb

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailhost/pgcluster"
	"mailhost/store"
)

// server is set once by Main before any test runs and only read afterwards.
var server struct {
	adminURL string // maintenance database of the server
	prefix   string // database name prefix of this test binary
	template string
	next     atomic.Int64
}

// FastSettings make a throwaway cluster quick; durability is not tested
// through them.
var FastSettings = map[string]string{"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

// Main runs m with a database server ready; use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }
func Main(m *testing.M) int {
	ctx := context.Background()
	admin := os.Getenv("DATABASE_URL")
	if admin == "" {
		c, cleanup, err := StartCluster(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testdb:", err)
			return 1
		}
		defer cleanup()
		admin = c.URL("postgres")
	}
	server.adminURL = admin
	server.prefix = fmt.Sprintf("t_%s_%d", pkgName(), os.Getpid())
	server.template = server.prefix + "_tmpl"
	if err := makeTemplate(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "testdb:", err)
		return 1
	}
	defer dropDatabase(ctx, admin, server.template) //nolint:errcheck // best effort
	return m.Run()
}

func makeTemplate(ctx context.Context) error {
	if err := store.EnsureDatabase(ctx, server.adminURL, server.template); err != nil {
		return err
	}
	s, err := store.Open(ctx, WithDatabase(server.adminURL, server.template), store.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.Migrate(ctx)
	return err
}

// New creates a fresh migrated database for t and returns its URL.
func New(t testing.TB) string {
	t.Helper()
	if server.adminURL == "" {
		t.Fatal("testdb: call testdb.Main from TestMain first")
	}
	ctx := context.Background()
	name := fmt.Sprintf("%s_%d", server.prefix, server.next.Add(1))
	var err error
	for try := 0; try < 5; try++ { // a clone races with another clone's lock now and then
		if err = cloneDatabase(ctx, server.adminURL, name, server.template); err == nil {
			break
		}
		time.Sleep(time.Duration(50*(try+1)) * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(ctx, server.adminURL, name); err != nil {
			t.Logf("testdb: %v", err)
		}
	})
	return WithDatabase(server.adminURL, name)
}

// NewEmpty creates an empty database (no migrations applied) for t and
// returns its URL.
func NewEmpty(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("%s_e%d", server.prefix, server.next.Add(1))
	if err := store.EnsureDatabase(ctx, server.adminURL, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dropDatabase(ctx, server.adminURL, name) })
	return WithDatabase(server.adminURL, name)
}

// Open returns a store on a fresh migrated database, closed at cleanup.
func Open(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), New(t), store.Options{MaxConns: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// WithDatabase returns connection string conn with its database replaced.
func WithDatabase(conn, db string) string {
	if strings.Contains(conn, "://") {
		u, err := url.Parse(conn)
		if err == nil {
			u.Path = "/" + db
			return u.String()
		}
	}
	return conn + " dbname=" + db
}

// StartCluster initialises and starts a throwaway cluster in a temporary
// directory with FastSettings; cleanup stops it and removes the files. Its
// socket is reachable by every account, so a mailhost under test that
// switched from root to vmail can still open connections.
func StartCluster(ctx context.Context) (*pgcluster.Cluster, func(), error) {
	dir, err := os.MkdirTemp("", "mailhost-pgtest-")
	if err != nil {
		return nil, nil, err
	}
	owner, err := clusterOwner()
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, nil, err
	}
	c, err := pgcluster.Acquire(ctx, pgcluster.Options{
		Dir: filepath.Join(dir, "pg"), SocketDir: filepath.Join(dir, "sock"), RunAs: owner, Settings: FastSettings,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return c, func() {
		if err := c.Release(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "testdb:", err)
		}
		os.RemoveAll(dir)
	}, nil
}

// clusterOwner is the account a root test run uses for PostgreSQL (which
// refuses root): the postgres account of the Debian package when present.
func clusterOwner() (pgcluster.Owner, error) {
	if os.Geteuid() != 0 {
		return pgcluster.Owner{}, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return pgcluster.Owner{UID: uint32(uid), GID: uint32(gid)}, nil
	}
	return pgcluster.Owner{}, fmt.Errorf("running as root and no postgres or nobody account to run the test cluster as")
}

func pkgName() string {
	n := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	var b strings.Builder
	for _, r := range strings.ToLower(n) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
