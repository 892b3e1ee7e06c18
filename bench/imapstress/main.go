// Command imapstress is the load generator of bench/imap-stress.sh: USERS
// users × CLIENTS connections each, for a fixed time, every connection
// running a random mix of IMAP commands (SELECT/EXAMINE, FETCH of flags,
// envelopes, body structures, one body, header fields; UID STORE; SEARCH;
// APPEND; UID COPY; UID EXPUNGE of its own messages; NOOP; IDLE) one after
// the other, as fast as the server answers. It fills each user's INBOX
// (and Archive) by APPEND first, untimed, then reports commands/s, count,
// p50/p99 per command and errors, as a table and as RESULT lines.
//
// It speaks IMAP over plain TCP itself (no IMAP library, no TLS), so it
// measures any server the same way: mailhost and Dovecot with the same
// users, mix and seed.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"syscall"
	"time"
)

// connectParallel is how many sessions log in at once before the run.
const connectParallel = 8

// config is the run's parameters, from the command line.
type config struct {
	addr, label, pass, userFmt string
	users, clients, prefill    int
	duration, idle, timeout    time.Duration
	seed                       uint64
}

func main() {
	cfg := &config{}
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:143", "IMAP server (plain TCP)")
	flag.StringVar(&cfg.label, "label", "server", "server name in the report")
	flag.StringVar(&cfg.pass, "pass", "secret", "password of every user")
	flag.StringVar(&cfg.userFmt, "user", "u%d@bench.test", "login name pattern, %d = 1..users")
	flag.IntVar(&cfg.users, "users", 20, "users")
	flag.IntVar(&cfg.clients, "clients", 20, "connections per user")
	flag.IntVar(&cfg.prefill, "prefill", 200, "messages in each INBOX before the run (Archive gets a tenth, at least 10)")
	flag.DurationVar(&cfg.duration, "duration", 60*time.Second, "timed run")
	flag.DurationVar(&cfg.idle, "idle", 100*time.Millisecond, "mean time a client stays in IDLE")
	flag.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "per command (longer counts as a timeout error)")
	flag.Uint64Var(&cfg.seed, "seed", 1, "random seed (messages and command mix)")
	prefillOnly := flag.Bool("prefill-only", false, "fill the mailboxes and stop (the run's own check for them is then quick)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("imapstress: ")
	if cfg.users < 1 || cfg.clients < 1 || cfg.prefill < 1 || cfg.idle <= 0 {
		log.Fatal("users, clients, prefill and idle must be positive")
	}
	start := time.Now()
	if err := prefill(cfg); err != nil {
		log.Fatalf("prefill: %v", err)
	}
	log.Printf("%s: %d users filled (INBOX %d, %s %d messages) in %.1f s",
		cfg.label, cfg.users, cfg.prefill, archive, archiveSize(cfg.prefill), time.Since(start).Seconds())
	if *prefillOnly {
		return
	}
	cpu0 := cpuTime()
	s, setupErrors, elapsed := run(cfg)
	report(os.Stdout, cfg.label, cfg, s, setupErrors, elapsed)
	fmt.Printf("RESULT imap_stress_client server=%s client_cpu_s=%.1f\n", cfg.label, (cpuTime() - cpu0).Seconds())
}

func (cfg *config) user(i int) string { return fmt.Sprintf(cfg.userFmt, i+1) }

// prefill brings every user's INBOX and Archive up to their sizes by
// APPEND (what is there already counts), a few users at a time.
func prefill(cfg *config) error {
	work := make(chan int)
	errs := make(chan error, cfg.users)
	var wg sync.WaitGroup
	for w := 0; w < min(cfg.users, 4); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				if err := fillUser(cfg, cfg.user(u)); err != nil {
					errs <- fmt.Errorf("%s: %w", cfg.user(u), err)
				}
			}
		}()
	}
	for u := 0; u < cfg.users; u++ {
		work <- u
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

func fillUser(cfg *config, user string) error {
	c, err := dial(cfg.addr, cfg.timeout)
	if err != nil {
		return err
	}
	defer c.close()
	if err := expectOK(c.command("LOGIN " + quote(user) + " " + quote(cfg.pass))); err != nil {
		return fmt.Errorf("LOGIN: %w", err)
	}
	c.command("CREATE " + archive) // NO when it exists already
	for _, mb := range []struct {
		name string
		n    int
	}{{"INBOX", cfg.prefill}, {archive, archiveSize(cfg.prefill)}} {
		rep, err := c.command("STATUS " + quote(mb.name) + " (MESSAGES)")
		if err := expectOK(rep, err); err != nil {
			return fmt.Errorf("STATUS %s: %w", mb.name, err)
		}
		have := statusMessages(rep)
		for i := have; i < mb.n; i++ {
			id := i
			if mb.name == archive {
				id += 100_000
			}
			flags := ""
			if i%3 != 0 {
				flags = `\Seen`
			}
			if err := expectOK(c.appendMessage(mb.name, flags, message(cfg.seed, user, id))); err != nil {
				return fmt.Errorf("APPEND to %s: %w", mb.name, err)
			}
		}
	}
	c.command("LOGOUT")
	return nil
}

// statusMessages reads MESSAGES from a STATUS response.
func statusMessages(rep reply) int {
	for _, r := range rep.untagged {
		var name string
		var n int
		if _, err := fmt.Sscanf(r.text, "* STATUS %s (MESSAGES %d)", &name, &n); err == nil {
			return n
		}
	}
	return 0
}

func expectOK(rep reply, err error) error {
	if err != nil {
		return err
	}
	if rep.status != "OK" {
		return &statusError{rep.status, rep.text}
	}
	return nil
}

// run connects every client (untimed), then lets them all run the mix
// until the duration is over; it returns the merged statistics of the
// timed part and its length (until the last command started in time has
// its answer).
func run(cfg *config) (s *stats, setupErrors int, elapsed time.Duration) {
	n := cfg.users * cfg.clients
	clients := make([]*client, n)
	setup := make([]*stats, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	// A few logins at a time, as clients arrive: hundreds in the same
	// millisecond overrun Dovecot's login processes (connections reset).
	slots := make(chan struct{}, connectParallel)
	for i := range clients {
		setup[i] = newStats()
		clients[i] = newClient(cfg, cfg.user(i%cfg.users), uint64(i), setup[i])
		wg.Add(1)
		slots <- struct{}{}
		go func(cl *client) {
			defer wg.Done()
			defer func() { <-slots }()
			cl.connect()
		}(clients[i])
	}
	wg.Wait()
	su := newStats()
	for _, s := range setup {
		su.merge(s)
	}
	up, failed := 0, 0
	for _, cl := range clients {
		if cl.c != nil && cl.mailbox != "" {
			up++
		}
	}
	for _, c := range su.cmds {
		for _, v := range c.errs {
			failed += v
		}
	}
	log.Printf("%s: %d of %d sessions logged in and selected INBOX in %.1f s (%d errors)", cfg.label, up, n, time.Since(t0).Seconds(), failed)
	for _, e := range su.samples {
		log.Printf("  setup error: %s", e)
	}

	window := make([]*stats, n)
	start := time.Now()
	deadline := start.Add(cfg.duration)
	for i, cl := range clients {
		window[i] = newStats()
		cl.stats = window[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.loop(deadline)
		}()
	}
	wg.Wait()
	elapsed = time.Since(start)
	s = newStats()
	for _, w := range window {
		s.merge(w)
	}
	for _, cl := range clients {
		if cl.c != nil {
			cl.c.timeout = 5 * time.Second
			cl.c.command("LOGOUT")
			cl.c.close()
		}
	}
	return s, failed, elapsed
}

// loop runs commands until the deadline; a lost connection is opened
// again (that LOGIN and SELECT count in the run).
func (cl *client) loop(deadline time.Time) {
	total := 0
	for _, o := range mix {
		total += o.weight
	}
	for time.Now().Before(deadline) {
		if cl.c == nil || cl.mailbox == "" {
			if err := cl.connect(); err != nil {
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		err := errSkip
		for tries := 0; err == errSkip && tries < 5; tries++ {
			err = pick(cl.r.IntN(total)).run(cl)
		}
		if err != nil && err != errSkip {
			if _, answered := err.(*statusError); !answered {
				cl.c.close()
				cl.c, cl.mailbox = nil, ""
			}
		}
	}
}

// cpuTime is the CPU this process used so far (user and system): the
// load generator shares the machine with the server it measures.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pick returns the op whose weight interval holds x (0 <= x < total).
func pick(x int) op {
	for _, o := range mix {
		if x < o.weight {
			return o
		}
		x -= o.weight
	}
	return mix[len(mix)-1]
}
