package dnsres_test

import (
	"net"
	"testing"

	"mailhost/dnstest"
)

// newNameserver starts a loopback nameserver answering in mode m from rrs.
func newNameserver(t *testing.T, m dnstest.Mode, rrs ...string) *dnstest.Server {
	t.Helper()
	s := dnstest.Start(t, rrs...)
	s.SetMode(m)
	return s
}

// silent is a UDP socket that reads queries and never answers; heard
// gets a value for each query.
type silent struct {
	addr  string
	heard chan struct{}
}

func newSilent(t *testing.T) *silent {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &silent{addr: pc.LocalAddr().String(), heard: make(chan struct{}, 100)}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			select {
			case s.heard <- struct{}{}:
			default:
			}
		}
	}()
	return s
}
