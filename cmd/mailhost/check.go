package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"mailhost/config"
	"mailhost/maildir"
	"mailhost/reconcile"
	"mailhost/store"
)

// maildirCommand is what reindex and check start from: the configuration,
// the database and the mailbox named (all when addr is "").
type maildirCommand struct {
	cfg  *config.Config
	db   *database
	log  *slog.Logger
	addr string
}

// openMaildirCommand parses a command's flags and its optional ADDRESS,
// loads the configuration and opens the database; the caller closes it.
func openMaildirCommand(ctx context.Context, fs *flag.FlagSet, g *globals, args []string, usage string) (maildirCommand, error) {
	pos, err := parse(fs, g, args)
	if err != nil {
		return maildirCommand{}, err
	}
	if len(pos) > 1 {
		return maildirCommand{}, fmt.Errorf("%w: %s", errUsage, usage)
	}
	m := maildirCommand{}
	if len(pos) == 1 {
		m.addr = strings.ToLower(pos[0])
	}
	if m.cfg, err = g.load(); err != nil {
		return maildirCommand{}, err
	}
	m.log = newLogger(m.cfg, io.Discard)
	m.db, err = openDatabase(ctx, m.cfg, m.log, false)
	return m, err
}

// errDifferences makes `mailhost check` exit 1 after its report.
var errDifferences = errors.New("differences found")

// cmdCheck compares the index with the Maildirs of one mailbox (or all)
// and reports every difference; --repair fixes them, like doveadm
// force-resync. It exits 1 when it found any.
func cmdCheck(ctx context.Context, args []string, sio stdio) error {
	fs, g := newFlagSet("check", sio)
	repair := fs.Bool("repair", false, "fix what can be fixed: finish interrupted removals, adopt files left without a row, drop rows without a file, recompute usage")
	m, err := openMaildirCommand(ctx, fs, g, args, "mailhost check [--repair] [ADDRESS]")
	if err != nil {
		return err
	}
	defer m.db.close(ctx)
	addr := m.addr
	c, err := newChecker(m.cfg, m.db.Store, m.log)
	if err != nil {
		return err
	}
	c.Repair = *repair
	n, err := c.Run(ctx, addr, func(d reconcile.Difference) { fmt.Fprintln(sio.out, d) })
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no mailbox %q", addr)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(sio.out, "no differences")
		return nil
	}
	if *repair {
		fmt.Fprintf(sio.out, "%d differences, repaired\n", n)
		return nil
	}
	return fmt.Errorf("%d %w (mailhost check --repair fixes them)", n, errDifferences)
}

func newChecker(cfg *config.Config, st *store.Store, log *slog.Logger) (*reconcile.Checker, error) {
	files, err := newReconciler(cfg, st, log)
	if err != nil {
		return nil, err
	}
	return &reconcile.Checker{Files: files, Index: st, Root: cfg.MaildirRoot,
		Owner: maildir.Owner{UID: cfg.Vmail.UID, GID: cfg.Vmail.GID}}, nil
}

// runningMarker is the file that says serve is running; one left behind at
// start means the last serve did not stop cleanly.
func runningMarker(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "serve.running") }

// markRunning records that serve runs (since when), and returns the time
// the previous serve started if it did not stop cleanly (zero otherwise).
func markRunning(cfg *config.Config) (time.Time, error) {
	path := runningMarker(cfg)
	var unclean time.Time
	if b, err := os.ReadFile(path); err == nil {
		sec, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		unclean = time.Unix(sec, 0)
	}
	if err := os.WriteFile(path, []byte(strconv.FormatInt(time.Now().Unix(), 10)+"\n"), 0o640); err != nil {
		return time.Time{}, fmt.Errorf("data dir: %w", err)
	}
	if os.Geteuid() == 0 {
		_ = os.Chown(path, cfg.Vmail.UID, cfg.Vmail.GID)
	}
	return unclean, nil
}

// reconcileAtStart finishes what a serve that did not stop cleanly left
// half-done, before any server accepts a client: removals and links of the
// journal, files whose delivery was never committed (adopted), debris in
// tmp/. Only folders changed since that serve started are read.
func reconcileAtStart(ctx context.Context, cfg *config.Config, st *store.Store, since time.Time, log *slog.Logger) error {
	c, err := newChecker(cfg, st, log)
	if err != nil {
		return err
	}
	c.Repair, c.Since = true, since.Add(-time.Minute)
	start := time.Now()
	n, err := c.Run(ctx, "", func(d reconcile.Difference) { log.Info("reconcile after unclean stop", "fixed", d.String()) })
	if err != nil {
		return fmt.Errorf("reconcile after unclean stop: %w", err)
	}
	log.Warn("the last serve did not stop cleanly; index and Maildirs reconciled",
		"differences", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
