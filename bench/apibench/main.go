// Command apibench drives the REST API for bench/api-mailboxes.sh: it
// creates mailboxes in one domain with concurrent clients and, at chosen
// sizes, measures the latency of a list page (100, first page and a page
// deep in the keyset), a search (q) page and a mailbox show.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:18080", "mailhost HTTP listener")
	domain := flag.String("domain", "bench.example", "domain to fill")
	total := flag.Int("n", 10000, "mailboxes to create")
	checkpoints := flag.String("at", "1000,10000", "sizes at which to measure")
	clients := flag.Int("clients", 4, "concurrent creating clients")
	samples := flag.Int("samples", 200, "requests per measurement")
	flag.Parse()
	tok := os.Getenv("MAILHOST_TOKEN")
	c := &client{base: strings.TrimRight(*base, "/") + "/api/v1", token: tok, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}

	if code, body := c.do("POST", "/domains", map[string]any{"name": *domain}); code != 201 && code != 409 {
		fail("create domain: %d %s", code, body)
	}
	var marks []int
	for _, s := range strings.Split(*checkpoints, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			fail("bad -at: %v", err)
		}
		marks = append(marks, n)
	}
	created := 0
	fmt.Printf("%-8s %-22s %9s %9s %9s\n", "MAILBOXES", "REQUEST", "P50 ms", "P99 ms", "MAX ms")
	for _, mark := range marks {
		if mark > *total {
			mark = *total
		}
		start := time.Now()
		c.fill(*domain, created, mark, *clients)
		rate := float64(mark-created) / time.Since(start).Seconds()
		fmt.Fprintf(os.Stderr, "created %d..%d (%.0f mailboxes/s with %d clients)\n", created, mark, rate, *clients)
		created = mark
		c.measure(mark, *domain, *samples)
	}
}

type client struct {
	base, token string
	http        *http.Client
}

func (c *client) do(method, path string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		fail("%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		fail("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// fill creates user<from>..user<to-1> with the given number of clients.
func (c *client) fill(domain string, from, to, clients int) {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				code, body := c.do("POST", "/domains/"+domain+"/mailboxes", map[string]any{
					"local_part": fmt.Sprintf("user%05d", i), "name": fmt.Sprintf("Bench User %d", i), "password": "bench-password"})
				if code != 201 && code != 409 {
					fail("create mailbox %d: %d %s", i, code, body)
				}
			}
		}()
	}
	wg.Wait()
}

func (c *client) measure(n int, domain string, samples int) {
	// A cursor from the middle of the domain: keyset pages cost the same anywhere.
	mid := fmt.Sprintf("user%05d@%s", n/2, domain)
	deep := cursorAfter(c, domain, n/2)
	q4 := fmt.Sprintf("r%05d", n/20)[:5] // "r0005" at 1,000: a substring of user00050..59
	qName := "user " + strconv.Itoa(n/3) // substring of the display name
	for _, m := range []struct {
		name, path string
	}{
		{"list first 100", "/domains/" + domain + "/mailboxes?limit=100"},
		{"list 100 mid-domain", "/domains/" + domain + "/mailboxes?limit=100&cursor=" + deep},
		{"search q=" + q4, "/domains/" + domain + "/mailboxes?limit=100&q=" + q4},
		{"search q=" + qName, "/domains/" + domain + "/mailboxes?limit=100&q=" + strings.ReplaceAll(qName, " ", "%20")},
		{"show mailbox", "/mailboxes/" + mid},
		{"domain list (usage)", "/domains"},
	} {
		var lat []time.Duration
		for range samples {
			t0 := time.Now()
			code, b := c.do("GET", m.path, nil)
			lat = append(lat, time.Since(t0))
			if code != 200 {
				fail("%s: %d %s", m.path, code, b)
			}
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
		fmt.Printf("%-9d %-22s %9.2f %9.2f %9.2f\n", n, m.name, p(0.50), p(0.99), p(1))
	}
}

// cursorAfter walks the keyset in pages of 500 and returns the cursor
// after about i mailboxes.
func cursorAfter(c *client, domain string, i int) string {
	cur := ""
	for seen := 0; seen+500 <= i; seen += 500 {
		path := "/domains/" + domain + "/mailboxes?limit=500"
		if cur != "" {
			path += "&cursor=" + cur
		}
		code, body := c.do("GET", path, nil)
		var page struct {
			NextCursor string `json:"next_cursor"`
		}
		if code != 200 || json.Unmarshal(body, &page) != nil {
			fail("walk: %d %s", code, body)
		}
		cur = page.NextCursor
	}
	return cur
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "apibench: "+format+"\n", a...)
	os.Exit(1)
}
