package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Superuser is the role initdb creates; it connects over the private socket.
const Superuser = "mailhost"

// Owner is the unprivileged account that runs the cluster when mailhost is
// root (PostgreSQL refuses to run as root).
type Owner struct {
	UID, GID uint32
}

// Options describe a cluster.
type Options struct {
	// Dir is the cluster's data directory (PGDATA).
	Dir string
	// RunAs is used when the process is root; ignored otherwise.
	RunAs Owner
	// Settings are extra server settings (for tests: fsync=off).
	Settings map[string]string
	// SocketDir, when set, holds the Unix socket instead of Dir, and is
	// made traversable by every account (mode 0755): a test cluster run as
	// one account serves a mailhost that has switched to another. Access
	// is still limited by the directories above it.
	SocketDir string
	Log       *slog.Logger
}

// Cluster is one process's use of a private cluster.
type Cluster struct {
	opts      Options
	bin       string
	socketDir string
	locks     *locks
	started   bool // this process started the server
}

// Acquire initialises the cluster when Dir is empty, starts the server when
// it is not running, and registers this process as a user of it. Release
// stops it when no other process uses it.
func Acquire(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	opts.Dir = dir
	binDir, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, bin: binDir, socketDir: socketDir(dir)}
	if opts.SocketDir != "" {
		c.socketDir = socketDir(opts.SocketDir)
	}
	if err := c.prepareDirs(); err != nil {
		return nil, err
	}
	c.locks, err = openLocks(filepath.Dir(dir), filepath.Base(dir), opts.RunAs)
	if err != nil {
		return nil, err
	}
	if err := c.locks.lockStart(); err != nil {
		c.locks.close()
		return nil, err
	}
	defer c.locks.unlockStart()
	if err := c.initIfNeeded(ctx); err != nil {
		c.locks.close()
		return nil, err
	}
	if !c.running(ctx) {
		if err := c.start(ctx); err != nil {
			c.locks.close()
			return nil, err
		}
		c.started = true
	}
	if err := c.locks.share(); err != nil {
		c.locks.close()
		return nil, err
	}
	return c, nil
}

// URL is the connection string for database db over the private socket.
func (c *Cluster) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(Superuser), Path: "/" + db}
	q := url.Values{"host": {c.socketDir}, "sslmode": {"disable"}}
	u.RawQuery = q.Encode()
	return u.String()
}

// Started reports whether this process started the server (rather than
// joining one already running).
func (c *Cluster) Started() bool { return c.started }

// Release unregisters this process and stops the server when it was the
// last user. It is safe to call once.
func (c *Cluster) Release(ctx context.Context) error {
	defer c.locks.close()
	if err := c.locks.lockStart(); err != nil {
		return err
	}
	defer c.locks.unlockStart()
	if !c.locks.lastUser() {
		c.opts.Log.Info("embedded postgres left running for its other users", "dir", c.opts.Dir)
		return nil
	}
	return c.stop(ctx)
}

func (c *Cluster) prepareDirs() error {
	for _, d := range []string{c.opts.Dir, c.socketDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if err := c.chown(d); err != nil {
			return err
		}
	}
	if c.opts.SocketDir != "" {
		if err := os.Chmod(c.socketDir, 0o755); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	return nil
}

func (c *Cluster) chown(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if err := os.Chown(path, int(c.opts.RunAs.UID), int(c.opts.RunAs.GID)); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return nil
}

func (c *Cluster) initIfNeeded(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(c.opts.Dir, "PG_VERSION")); err == nil {
		return nil
	}
	c.opts.Log.Info("initialising embedded postgres", "dir", c.opts.Dir)
	_, err := c.run(ctx, "initdb", "-D", c.opts.Dir, "-U", Superuser, "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-instructions")
	return err
}

func (c *Cluster) running(ctx context.Context) bool {
	_, err := c.run(ctx, "pg_ctl", "status", "-D", c.opts.Dir)
	return err == nil
}

func (c *Cluster) start(ctx context.Context) error {
	opts := "-c listen_addresses='' -k " + quote(c.socketDir)
	for k, v := range c.opts.Settings {
		opts += " -c " + k + "=" + quote(v)
	}
	t0 := time.Now()
	_, err := c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.opts.Dir,
		"-l", filepath.Join(c.opts.Dir, "server.log"), "-o", opts)
	if err != nil {
		return err
	}
	c.opts.Log.Info("embedded postgres started", "dir", c.opts.Dir, "socket", c.socketDir, "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

func (c *Cluster) stop(ctx context.Context) error {
	if !c.running(ctx) {
		return nil
	}
	if _, err := c.run(ctx, "pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", c.opts.Dir); err != nil {
		return err
	}
	c.opts.Log.Info("embedded postgres stopped", "dir", c.opts.Dir)
	return nil
}

// run executes one of the server programs, as RunAs when root, and returns
// its output; a failure carries the output so the cause is visible.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, prog), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Dir = c.opts.Dir
	// Own process group: a Ctrl-C on the terminal reaches mailhost, which
	// then stops the server in order, rather than killing it mid-write.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: c.opts.RunAs.UID, Gid: c.opts.RunAs.GID, NoSetGroups: true}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && prog == "pg_ctl" && len(args) > 0 && args[0] == "status" {
			return out.Bytes(), err // not running: an answer, not a failure
		}
		return out.Bytes(), fmt.Errorf("pgcluster: %s %s: %w: %s", prog, args[0], err, bytes.TrimSpace(out.Bytes()))
	}
	return out.Bytes(), nil
}

// quote wraps a value for the postgres command line that pg_ctl -o passes
// through a shell.
func quote(s string) string {
	return strconv.Quote(s)
}

// socketDir is the cluster directory itself unless the socket path would
// pass the kernel's 107-byte limit on Unix socket names; then a short
// private directory under /tmp named after the cluster.
func socketDir(dir string) string {
	const limit = 107 - len("/.s.PGSQL.5432")
	if len(dir) <= limit {
		return dir
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("mailhost-pg-%08x", fnv32(dir)))
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
