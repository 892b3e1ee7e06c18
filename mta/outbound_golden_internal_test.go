package mta

import (
	"testing"
	"time"

	"mailhost/store"
)

// The outbound queue's notices: a bounce for a remote refusal, one for a
// DNS failure (no Remote-MTA), one after expiry, and a delay warning.
func TestGoldenOutboundNotices(t *testing.T) {
	o := &Outbound{cfg: OutboundConfig{Hostname: "mx.test", MaxLifetime: 120 * time.Hour}}
	j := store.QueueJob{ID: 4711, QueueID: "0662A9B1C4D2E1A3F07C", Sender: "alice@example.test", Arrival: fixed,
		Body: []byte("Received: by mx.test\r\nFrom: alice@example.test\r\nSubject: out\r\n\r\nbody\r\n")}
	refused := attempt{rcpt: store.QueueJobRecipient{Address: "gone@remote.example", OrigRecipient: "gone@remote.example"},
		permanent: true, status: "5.1.1", diag: "smtp; 550 5.1.1 no such user", remote: "dns; mx.remote.example"}
	nullMX := attempt{rcpt: store.QueueJobRecipient{Address: "u@nullmx.example"}, permanent: true, status: "5.1.10",
		diag: "x-mailhost; Domain does not accept mail (null MX)"}
	expired := attempt{rcpt: store.QueueJobRecipient{Address: "slow@remote.example"}, status: "4.4.7",
		diag: "smtp; 451 4.3.0 later (delivery time expired: message too old)", remote: "dns; mx.remote.example"}
	deferred := attempt{rcpt: store.QueueJobRecipient{Address: "slow@remote.example"}, status: "4.3.0",
		diag: "smtp; 451 4.3.0 later", remote: "dns; mx.remote.example"}
	for _, tc := range []struct {
		name    string
		rcpts   []DSNRecipient
		delayed bool
	}{
		{"bounce-remote.golden", []DSNRecipient{dsnRcpt(refused, ""), dsnRcpt(nullMX, "")}, false},
		{"bounce-expired.golden", []DSNRecipient{dsnRcpt(expired, "")}, false},
		{"delay-warning.golden", []DSNRecipient{dsnRcpt(deferred, "delayed")}, true},
	} {
		d := o.noticeDSN(j, tc.rcpts, tc.delayed, fixed.Add(4*time.Hour))
		d.Boundary, d.MessageID = "BOUNDARY", "<dsn@mx.test>"
		golden(t, tc.name, BuildDSN(d))
	}
}
