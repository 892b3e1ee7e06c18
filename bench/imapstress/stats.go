package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"time"
)

// errorKinds are the ways a command fails, in report order: a tagged NO or
// BAD, an untagged BYE, the connection lost or timed out, and an OK that
// left out results it should have carried.
var errorKinds = []string{"NO", "BAD", "BYE", "disconnect", "timeout", "incomplete"}

// notCommands are latency rows that are not commands of their own: DONE
// ends the IDLE counted already.
var notCommands = map[string]bool{"IDLE DONE": true}

// cmdStats is what one command name collected.
type cmdStats struct {
	lat  []time.Duration
	errs map[string]int
}

// stats belongs to one client goroutine (no locking); merge adds them up.
type stats struct {
	cmds    map[string]*cmdStats
	samples []string // the first error messages, for the log
}

func newStats() *stats { return &stats{cmds: map[string]*cmdStats{}} }

func (s *stats) get(name string) *cmdStats {
	c := s.cmds[name]
	if c == nil {
		c = &cmdStats{errs: map[string]int{}}
		s.cmds[name] = c
	}
	return c
}

func (s *stats) ok(name string, d time.Duration) { s.get(name).lat = append(s.get(name).lat, d) }

func (s *stats) fail(name, kind string, err error) {
	s.get(name).errs[kind]++
	if len(s.samples) < 5 {
		s.samples = append(s.samples, fmt.Sprintf("%s: %s: %v", name, kind, err))
	}
}

func (s *stats) merge(o *stats) {
	for name, c := range o.cmds {
		m := s.get(name)
		m.lat = append(m.lat, c.lat...)
		for k, v := range c.errs {
			m.errs[k] += v
		}
	}
	for _, e := range o.samples {
		if len(s.samples) < 20 {
			s.samples = append(s.samples, e)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// quantile of sorted durations (nearest rank).
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(q*float64(len(d))+0.5) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

// key makes a command name a RESULT value: "FETCH BODY[]" -> FETCH_BODY.
func key(name string) string {
	r := strings.NewReplacer(" ", "_", "[", "", "]", "", ".", "_")
	return r.Replace(name)
}

// report writes the table and the RESULT lines of one run.
// setupErrors are those of the logins before the clock started.
func report(w io.Writer, label string, cfg *config, s *stats, setupErrors int, elapsed time.Duration) {
	names := make([]string, 0, len(s.cmds))
	for n := range s.cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	total, totalErr := 0, map[string]int{}
	fmt.Fprintf(w, "== %s (%s): %d users x %d clients, %.1f s, seed %d\n", label, cfg.addr, cfg.users, cfg.clients, elapsed.Seconds(), cfg.seed)
	fmt.Fprintf(w, "%-22s %9s %8s %9s %9s %9s\n", "command", "count", "errors", "p50 ms", "p99 ms", "max ms")
	for _, n := range names {
		c := s.cmds[n]
		slices.Sort(c.lat)
		ne := 0
		for k, v := range c.errs {
			ne += v
			totalErr[k] += v
		}
		if !notCommands[n] && n != "LOGIN" {
			total += len(c.lat)
		}
		var mx time.Duration
		if len(c.lat) > 0 {
			mx = c.lat[len(c.lat)-1]
		}
		fmt.Fprintf(w, "%-22s %9d %8d %9s %9s %9s\n", n, len(c.lat), ne, ms(quantile(c.lat, 0.5)), ms(quantile(c.lat, 0.99)), ms(mx))
	}
	rate := float64(total) / elapsed.Seconds()
	errs := 0
	var kinds []string
	for _, k := range errorKinds {
		errs += totalErr[k]
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, totalErr[k]))
	}
	fmt.Fprintf(w, "total: %d commands (LOGIN and DONE not counted), %.0f commands/s, %d errors (%s)\n",
		total, rate, errs, strings.Join(kinds, " "))
	for _, e := range s.samples {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	if setupErrors > 0 {
		fmt.Fprintf(w, "setup: %d errors in the logins before the run (not counted above)\n", setupErrors)
	}
	fmt.Fprintf(w, "RESULT imap_stress server=%s users=%d clients=%d seconds=%.1f seed=%d commands=%d cmds_per_s=%.1f errors=%d %s setup_errors=%d\n",
		label, cfg.users, cfg.clients, elapsed.Seconds(), cfg.seed, total, rate, errs, strings.ToLower(strings.Join(kinds, " ")), setupErrors)
	for _, n := range names {
		c := s.cmds[n]
		ne := 0
		for _, v := range c.errs {
			ne += v
		}
		fmt.Fprintf(w, "RESULT imap_stress_cmd server=%s cmd=%s count=%d p50_ms=%s p99_ms=%s errors=%d\n",
			label, key(n), len(c.lat), ms(quantile(c.lat, 0.5)), ms(quantile(c.lat, 0.99)), ne)
	}
}
