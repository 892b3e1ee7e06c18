package mta_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestBenchDeliveryRuns(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	e := newEnv(t)
	e.domain("bench.test")
	for i := 1; i <= 20; i++ {
		e.mailbox(fmt.Sprintf("u%d@bench.test", i), 0)
	}
	body := "Subject: bench\r\n\r\n" + strings.Repeat(strings.Repeat("x", 78)+"\r\n", 51)
	const sessions, perSession = 8, 50
	var wg sync.WaitGroup
	for s := 0; s < sessions; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.dial("")
			for i := 0; i < perSession; i++ {
				if err := send(c, "loadgen@client.test", []string{fmt.Sprintf("u%d@bench.test", (s*perSession+i)%20+1)}, body); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
