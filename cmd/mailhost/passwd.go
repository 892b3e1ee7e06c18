package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"mailhost/auth"
	"mailhost/config"
)

// cmdPasswd is `mailhost passwd hash [--scheme S]`: it reads a password
// from the first line of stdin and prints its hash with the {SCHEME}
// prefix, like `doveadm pw`, for pasting into the database or a script.
func cmdPasswd(_ context.Context, args []string, sio stdio) error {
	fs, g := newFlagSet("passwd", sio)
	scheme := fs.String("scheme", "", "ARGON2ID, BLF-CRYPT or SHA512-CRYPT (default password.scheme)")
	pos, err := parse(fs, g, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "hash" {
		return fmt.Errorf("%w: echo PASSWORD | mailhost passwd hash [--scheme S]", errUsage)
	}
	cfg, err := g.load()
	if err != nil {
		return err
	}
	h := hasher(cfg)
	if *scheme != "" {
		h.Scheme = strings.ToUpper(*scheme)
	}
	pw, err := readPassword(sio.in)
	if err != nil {
		return err
	}
	out, err := h.Hash(pw)
	if err != nil {
		return err
	}
	fmt.Fprintln(sio.out, out)
	return nil
}

// hasher is the password hasher of new and upgraded hashes, from the
// password.* keys.
func hasher(cfg *config.Config) auth.Hasher {
	p := cfg.Password
	return auth.Hasher{
		Scheme:            p.Scheme,
		Argon2Time:        p.Argon2Time,
		Argon2MemoryKiB:   p.Argon2MemoryKiB,
		Argon2Threads:     p.Argon2Threads,
		BcryptCost:        p.BcryptCost,
		SHA512CryptRounds: p.SHA512Rounds,
	}
}

// readPassword reads the first line of r without its line ending; an
// empty password is refused.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("empty password on stdin")
	}
	return line, nil
}
