package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhost/auth"
	"mailhost/store"
	"mailhost/testdb"
)

// stormOutcome is what one login attempt got.
type stormOutcome int

const (
	stormOK      stormOutcome = iota // logged in
	stormInvalid                     // wrong credentials
	stormTemp                        // a temporary failure: throttled or busy
)

// stormLogin logs in once over a protocol from a local address.
type stormLogin func(from, user, password string) (stormOutcome, error)

func dialFrom(from, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 30 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err == nil {
		c.SetDeadline(time.Now().Add(2 * time.Minute))
	}
	return c, err
}

// lineClient reads a text protocol's reply lines.
type lineClient struct {
	c  net.Conn
	br *bufio.Reader
}

func (l lineClient) say(cmd string) (string, error) {
	if cmd != "" {
		if _, err := io.WriteString(l.c, cmd+"\r\n"); err != nil {
			return "", err
		}
	}
	return l.br.ReadString('\n')
}

// smtpReply reads a (multi-line) SMTP reply and returns its last line.
func (l lineClient) smtpReply(cmd string) (string, error) {
	line, err := l.say(cmd)
	for err == nil && len(line) > 3 && line[3] == '-' {
		line, err = l.say("")
	}
	return line, err
}

func imapLogin(addr string) stormLogin {
	return func(from, user, password string) (stormOutcome, error) {
		c, err := dialFrom(from, addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		l := lineClient{c, bufio.NewReader(c)}
		if g, err := l.say(""); err != nil || !strings.HasPrefix(g, "* OK") {
			return 0, fmt.Errorf("greeting %q, %v", g, err)
		}
		line, err := l.say(fmt.Sprintf(`a LOGIN "%s" "%s"`, user, password))
		for err == nil && strings.HasPrefix(line, "* ") {
			line, err = l.say("")
		}
		switch {
		case err != nil:
			return 0, err
		case strings.HasPrefix(line, "a OK"):
			return stormOK, nil
		case strings.HasPrefix(line, "a NO [AUTHENTICATIONFAILED]"):
			return stormInvalid, nil
		case strings.HasPrefix(line, "a NO [UNAVAILABLE]"):
			return stormTemp, nil
		}
		return 0, fmt.Errorf("LOGIN: %q", line)
	}
}

func pop3Login(addr string) stormLogin {
	return func(from, user, password string) (stormOutcome, error) {
		c, err := dialFrom(from, addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		l := lineClient{c, bufio.NewReader(c)}
		for _, cmd := range []string{"", "USER " + user} {
			if r, err := l.say(cmd); err != nil || !strings.HasPrefix(r, "+OK") {
				return 0, fmt.Errorf("%q: %q, %v", cmd, r, err)
			}
		}
		line, err := l.say("PASS " + password)
		switch {
		case err != nil:
			return 0, err
		case strings.HasPrefix(line, "+OK"):
			// QUIT ends the session and its mailbox lock before the
			// next login of the owner.
			if r, err := l.say("QUIT"); err != nil || !strings.HasPrefix(r, "+OK") {
				return 0, fmt.Errorf("QUIT: %q, %v", r, err)
			}
			return stormOK, nil
		case strings.HasPrefix(line, "-ERR [AUTH]"):
			return stormInvalid, nil
		case strings.HasPrefix(line, "-ERR [SYS/TEMP]"):
			return stormTemp, nil
		}
		return 0, fmt.Errorf("PASS: %q", line)
	}
}

func submissionLogin(addr string) stormLogin {
	return func(from, user, password string) (stormOutcome, error) {
		c, err := dialFrom(from, addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		l := lineClient{c, bufio.NewReader(c)}
		for _, cmd := range []string{"", "EHLO storm.test"} {
			if r, err := l.smtpReply(cmd); err != nil || !strings.HasPrefix(r, "2") {
				return 0, fmt.Errorf("%q: %q, %v", cmd, r, err)
			}
		}
		line, err := l.smtpReply("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+password)))
		switch {
		case err != nil:
			return 0, err
		case strings.HasPrefix(line, "235"):
			return stormOK, nil
		case strings.HasPrefix(line, "535"):
			return stormInvalid, nil
		case strings.HasPrefix(line, "454"):
			return stormTemp, nil
		}
		return 0, fmt.Errorf("AUTH: %q", line)
	}
}

func panelLogin(addr string) stormLogin {
	return func(from, user, password string) (stormOutcome, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 30 * time.Second}
		hc := &http.Client{Timeout: 2 * time.Minute,
			Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := hc.PostForm("http://"+addr+"/login", url.Values{"username": {user}, "password": {password}})
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusSeeOther:
			return stormOK, nil
		case http.StatusUnauthorized:
			return stormInvalid, nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			return stormTemp, nil
		}
		return 0, fmt.Errorf("POST /login: %s", res.Status)
	}
}

// metric reads a counter of the running server's /metrics.
func metric(t *testing.T, r *running, name string) float64 {
	t.Helper()
	res, err := http.Get("http://" + r.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics:\n%s", name, b)
	return 0
}

// TestLoginStormAcrossProtocols: 200 parallel logins from one address on
// IMAP, SMTP AUTH (submission), POP3 and the panel, against a running
// serve. Each storm checks at most auth.max_failures passwords (the
// server's hash counter says so), while the owner logs in with the right
// password from an address it used before; the blocks are listed and
// lifted with `mailhost auth`.
func TestLoginStormAcrossProtocols(t *testing.T) {
	const maxFailures, storm = 10, 200
	dbURL := testdb.New(t)
	imapAddr, pop3Addr, subAddr := freePort(t), freePort(t), freePort(t)
	env := baseEnv("DATABASE_URL="+dbURL, "MAILHOST_DATA_DIR="+dataDir(t), "MAILHOST_HOSTNAME=mail.storm.test",
		"MAILHOST_LISTEN_IMAP="+imapAddr, "MAILHOST_LISTEN_POP3="+pop3Addr, "MAILHOST_LISTEN_SUBMISSION="+subAddr,
		"MAILHOST_AUTH_MAX_FAILURES="+strconv.Itoa(maxFailures), "MAILHOST_AUTH_BLOCK_SECONDS=3600", "MAILHOST_AUTH_DELAY_MS=1",
		"MAILHOST_AUTH_HASH_WAIT_SECONDS=60",
		"MAILHOST_IMAP_MAX_CONNECTIONS_PER_CLIENT=0", "MAILHOST_POP3_MAX_CONNECTIONS_PER_CLIENT=0",
		"MAILHOST_SUBMISSION_MAX_CONNECTIONS_PER_CLIENT=0",
		"MAILHOST_PASSWORD_SCHEME=ARGON2ID", "MAILHOST_PASSWORD_ARGON2_TIME=1", "MAILHOST_PASSWORD_ARGON2_MEMORY_KIB=64")
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := auth.Hasher{Scheme: auth.SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 64, Argon2Threads: 1}
	hash, err := h.Hash("right-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `INSERT INTO domains (name) VALUES ('storm.test')`); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"imap", "smtp", "pop", "web"} {
		if _, err := st.Pool().Exec(ctx, `
			INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
			SELECT id, $1, $1 || '@storm.test', $2, 'storm.test/' || $1 || '/' FROM domains`, u, hash); err != nil {
			t.Fatal(err)
		}
	}
	r := startServe(t, env)

	const home = "127.0.0.2" // the owners' usual address
	for i, p := range []struct {
		name, user string
		login      stormLogin
	}{
		{"IMAP", "imap@storm.test", imapLogin(imapAddr)},
		{"SMTP AUTH", "smtp@storm.test", submissionLogin(subAddr)},
		{"POP3", "pop@storm.test", pop3Login(pop3Addr)},
		{"panel", "web@storm.test", panelLogin(r.http)},
	} {
		attacker := fmt.Sprintf("127.0.0.%d", 11+i)
		if got, err := p.login(home, p.user, "right-password"); err != nil || got != stormOK {
			t.Fatalf("%s: the owner's first login: %v, %v\n%s", p.name, got, err, r.log)
		}
		before := metric(t, r, "mailhost_auth_hashes_total")
		var wg sync.WaitGroup
		var mu sync.Mutex
		counts := map[stormOutcome]int{}
		for g := range storm {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := p.login(attacker, p.user, fmt.Sprintf("guess-%d", g))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("%s guess %d: %v", p.name, g, err)
					return
				}
				counts[got]++
			}()
		}
		// The owner, during the storm, from its usual address.
		got, err := p.login(home, p.user, "right-password")
		wg.Wait()
		if err != nil || got != stormOK {
			t.Fatalf("%s: the owner during the storm: %v, %v", p.name, got, err)
		}
		hashes := metric(t, r, "mailhost_auth_hashes_total") - before
		t.Logf("%s: %d parallel guesses: %d refused as wrong, %d as temporary; %v hashes (owner's included)",
			p.name, storm, counts[stormInvalid], counts[stormTemp], hashes)
		if counts[stormOK] != 0 || counts[stormInvalid] > maxFailures || hashes > maxFailures+1 {
			t.Fatalf("%s: %v outcomes, %v hashes; want at most %d wrong-password answers and %d hashes (+1 for the owner)",
				p.name, counts, hashes, maxFailures, maxFailures)
		}
		// The right password from the attacker's address is refused too.
		if got, err := p.login(attacker, p.user, "right-password"); err != nil || got != stormTemp {
			t.Fatalf("%s: right password from the blocked address: %v, %v; want a temporary failure", p.name, got, err)
		}
	}

	// The blocks, as the CLI (another process) sees them, and lifted.
	code, out, errOut := mailhost(t, env, "", "auth", "blocks")
	if code != 0 || !strings.Contains(out, "127.0.0.11") || !strings.Contains(out, "imap@storm.test") || !strings.Contains(out, "web@storm.test") {
		t.Fatalf("auth blocks: %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := mailhost(t, env, "", "auth", "unblock", "127.0.0.11"); code != 0 || !strings.Contains(out, "unblocked address 127.0.0.11") {
		t.Fatalf("auth unblock 127.0.0.11: %d\n%s%s", code, out, errOut)
	}
	// The account is still blocked for addresses it does not know.
	if got, err := imapLogin(imapAddr)("127.0.0.11", "imap@storm.test", "right-password"); err != nil || got != stormTemp {
		t.Fatalf("after unblocking the address only: %v, %v; want a temporary failure", got, err)
	}
	if code, _, errOut := mailhost(t, env, "", "auth", "unblock", "IMAP@storm.test"); code != 0 {
		t.Fatalf("auth unblock IMAP@storm.test: %d %s", code, errOut)
	}
	if got, err := imapLogin(imapAddr)("127.0.0.11", "imap@storm.test", "right-password"); err != nil || got != stormOK {
		t.Fatalf("after unblocking both: %v, %v; want a login", got, err)
	}
	if code, _, errOut := mailhost(t, env, "", "auth", "unblock", "127.0.0.99"); code == 0 || !strings.Contains(errOut, "not blocked") {
		t.Fatalf("auth unblock of a free address: %d %s", code, errOut)
	}
	if v := metric(t, r, `mailhost_auth_blocks{reason="ip"}`); v != 3 {
		t.Fatalf(`mailhost_auth_blocks{reason="ip"} = %v; want 3`, v)
	}
}
