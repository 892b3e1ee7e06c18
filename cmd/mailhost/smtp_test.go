package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/store"
	"mailhost/testdb"
	"mailhost/testsupport"
)

// TestSMTPCrash kills -9 a real `mailhost serve` during concurrent
// deliveries. After a restart, every message that got a 250 is in its
// Maildir and indexed exactly once, and no index row lacks its file.
func TestSMTPCrash(t *testing.T) {
	url := testdb.New(t)
	data := dataDir(t)
	smtpAddr := freePort(t)
	env := baseEnv("DATABASE_URL="+url, "MAILHOST_DATA_DIR="+data, "MAILHOST_LISTEN_SMTP="+smtpAddr,
		"MAILHOST_HOSTNAME=mx.test")
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const boxes = 10
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO domains (name) VALUES ('crash.test');
		INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
		SELECT d.id, 'c' || i, 'c' || i || '@crash.test', '{PLAIN}x', 'crash.test/c' || i || '/'
		FROM domains d, generate_series(1, 10) i`); err != nil {
		t.Fatal(err)
	}

	r := startServe(t, env)
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(smtpAddr)
			if err != nil {
				return
			}
			defer c.Close()
			if c.Hello("crash.example") != nil {
				return
			}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("crash-%d-%d", g, i)
				// Two recipients on odd messages: one transaction, two files.
				to := []string{fmt.Sprintf("c%d@crash.test", (g+i)%boxes+1)}
				if i%2 == 1 {
					to = append(to, fmt.Sprintf("c%d@crash.test", (g+i+1)%boxes+1))
				}
				if c.Mail("sender@remote.example", nil) != nil {
					return
				}
				for _, rc := range to {
					if c.Rcpt(rc, nil) != nil {
						return
					}
				}
				w, err := c.Data()
				if err != nil {
					return
				}
				fmt.Fprintf(w, "Message-ID: <%s@test>\r\nSubject: %s\r\n\r\n%s\r\n", id, id, strings.Repeat("body ", 200))
				if w.Close() != nil {
					return
				}
				mu.Lock()
				for range to {
					acked = append(acked, id)
				}
				mu.Unlock()
			}
		}()
	}
	// Let deliveries run, then pull the plug in the middle of them (after
	// 300 acknowledgements, or 20 s on a slow machine: any number will do).
	testsupport.Poll(20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 300
	})
	metrics := httpGet(t, "http://"+r.http+"/metrics")
	for _, m := range []string{"mailhost_smtp_connections_total 8", "mailhost_smtp_messages_accepted_total ",
		"mailhost_delivery_seconds_bucket", "mailhost_smtp_received_bytes_total "} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r.exited
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatalf("no message was acknowledged before the kill:\n%s", r.log)
	}

	r2 := startServe(t, env)
	if code := r2.stop(t); code != 0 {
		t.Fatalf("restart exit %d\n%s", code, r2.log)
	}

	// Files by Message-ID, and every file name.
	files := map[string][]string{} // id -> paths
	onDisk := map[string]bool{}    // "<mailbox>/<name>"
	idRE := regexp.MustCompile(`Message-ID: <(crash-\d+-\d+)@test>`)
	paths, _ := filepath.Glob(filepath.Join(data, "vmail", "crash.test", "*", "new", "*"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m := idRE.FindSubmatch(b)
		if m == nil {
			t.Errorf("%s: no Message-ID", p)
			continue
		}
		files[string(m[1])] = append(files[string(m[1])], p)
		if fi, err := os.Stat(p); err == nil && os.Geteuid() == 0 {
			// Started as root: every Maildir file belongs to vmail, 0600.
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != 5000 || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: uid %d mode %v, want vmail (5000) 0600", p, st.Uid, fi.Mode().Perm())
			}
		}
		onDisk[filepath.Base(filepath.Dir(filepath.Dir(p)))+"/"+filepath.Base(p)] = true
	}
	indexed := map[string]int{}
	rows, err := st.Pool().Query(ctx, `SELECT b.local_part || '/' || m.filename FROM messages m
		JOIN folders f ON f.id = m.folder_id JOIN mailboxes b ON b.id = f.mailbox_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		indexed[k]++
		if !onDisk[k] {
			t.Errorf("index row %s has no file", k)
		}
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	want := map[string]int{}
	for _, id := range acked {
		want[id]++
	}
	for id, n := range want {
		ps := files[id]
		if len(ps) < n {
			t.Errorf("%s acknowledged for %d recipients, %d files", id, n, len(ps))
			continue
		}
		for _, p := range ps {
			k := filepath.Base(filepath.Dir(filepath.Dir(p))) + "/" + filepath.Base(p)
			if indexed[k] != 1 {
				t.Errorf("%s (%s) indexed %d times, want 1", id, k, indexed[k])
			}
		}
	}
	// Quota counters match the index.
	var bad int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM mailboxes b WHERE used_messages <>
		(SELECT count(*) FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.mailbox_id = b.id)`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Errorf("%d mailboxes whose used_messages disagree with the index", bad)
	}
	t.Logf("%d copies acknowledged, %d files, %d index rows", len(acked), len(paths), len(indexed))
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
