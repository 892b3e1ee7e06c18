package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"

	"mailhost/config"
)

// ensureVmailUser creates the vmail system account (and group) when no
// account has the configured uid: PostgreSQL needs a real user to run the
// private cluster as, and the how-tos' vmail user is what operators expect.
func ensureVmailUser(cfg *config.Config, log *slog.Logger) error {
	uid, gid := strconv.Itoa(cfg.Vmail.UID), strconv.Itoa(cfg.Vmail.GID)
	if _, err := user.LookupId(uid); err == nil {
		return nil
	}
	if _, err := user.LookupGroupId(gid); err != nil {
		if err := runTool("groupadd", "--system", "--gid", gid, cfg.Vmail.User); err != nil {
			return err
		}
	}
	if err := runTool("useradd", "--system", "--uid", uid, "--gid", gid, "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", "virtual mail", cfg.Vmail.User); err != nil {
		return err
	}
	log.Info("created the vmail account", "user", cfg.Vmail.User, "uid", cfg.Vmail.UID, "gid", cfg.Vmail.GID)
	return nil
}

func runTool(name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// dropPrivileges switches a root process to the vmail uid/gid for good
// (real, effective and saved ids, on every thread), after the ports are
// bound and the keys read. It does nothing when not root.
func dropPrivileges(cfg *config.Config, log *slog.Logger) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if err := syscall.Setgroups([]int{cfg.Vmail.GID}); err != nil {
		return fmt.Errorf("drop privileges: setgroups: %w", err)
	}
	if err := syscall.Setresgid(cfg.Vmail.GID, cfg.Vmail.GID, cfg.Vmail.GID); err != nil {
		return fmt.Errorf("drop privileges: setresgid: %w", err)
	}
	if err := syscall.Setresuid(cfg.Vmail.UID, cfg.Vmail.UID, cfg.Vmail.UID); err != nil {
		return fmt.Errorf("drop privileges: setresuid: %w", err)
	}
	if os.Geteuid() == 0 || syscall.Setuid(0) == nil {
		return fmt.Errorf("drop privileges: still root after switching to uid %d", cfg.Vmail.UID)
	}
	log.Info("dropped privileges", "uid", cfg.Vmail.UID, "gid", cfg.Vmail.GID)
	return nil
}

// ownDir creates dir (and parents) 0700 and, as root, hands it to vmail.
func ownDir(cfg *config.Config, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		return os.Chown(dir, cfg.Vmail.UID, cfg.Vmail.GID)
	}
	return nil
}
