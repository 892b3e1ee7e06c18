package mta

import (
	"testing"
	"time"

	"mailhost/store"
)

// The reports the DSN parameters add: a report of success (delivered
// here, relayed to a next hop without DSN, expanded by an alias) with
// ENVID and ORCPT, and a bounce with RET=HDRS, ENVID and a utf-8 ORCPT.
func TestGoldenDSNReports(t *testing.T) {
	o := &Outbound{cfg: OutboundConfig{Hostname: "mx.test", MaxLifetime: 120 * time.Hour}}
	j := store.QueueJob{ID: 4712, QueueID: "0662A9B1C4D2E1A3F07C", Sender: "bob@remote.example", EnvID: "QQ314159", Ret: "HDRS", Arrival: fixed,
		Body: []byte("Received: by mx.test\r\nFrom: bob@remote.example\r\nSubject: report\r\n\r\nsecret body\r\n")}
	delivered := attempt{rcpt: store.QueueJobRecipient{Address: "alice@example.test",
		OrigRecipient: "Alice@Example.test", OrigRecipientType: "rfc822"}, ok: true, status: "2.0.0", action: "delivered"}
	relayed := attempt{rcpt: store.QueueJobRecipient{Address: "x@relay.example"}, ok: true, status: "2.0.0",
		remote: "dns; mx.relay.example", action: "relayed"}
	expanded := attempt{rcpt: store.QueueJobRecipient{Address: "team@example.test"}, ok: true, status: "2.0.0", action: "expanded"}
	failed := attempt{rcpt: store.QueueJobRecipient{Address: "gone@remote.example", OrigRecipient: "jörg@example.test",
		OrigRecipientType: "utf-8"}, permanent: true, status: "5.1.1", diag: "smtp; 550 5.1.1 no such user",
		remote: "dns; mx.remote.example"}
	s := o.noticeDSN(j, []DSNRecipient{dsnRcpt(delivered, "delivered"), dsnRcpt(relayed, "relayed"),
		dsnRcpt(expanded, "expanded")}, false, fixed.Add(time.Minute))
	s.Success = true
	s.Boundary, s.MessageID = "BOUNDARY", "<dsn@mx.test>"
	golden(t, "dsn-success.golden", BuildDSN(s))
	f := o.noticeDSN(j, []DSNRecipient{dsnRcpt(failed, "")}, false, fixed.Add(time.Minute))
	f.Boundary, f.MessageID = "BOUNDARY", "<dsn@mx.test>"
	golden(t, "dsn-envid-hdrs.golden", BuildDSN(f))
}

// RFC 3461 6.2.7: what a recipient's copies carry and which report of
// success is this MTA's to send.
func TestForwardedDSN(t *testing.T) {
	local := store.LocalTarget{MailboxID: 1, Address: "alice@example.test"}
	fwd := store.RemoteTarget{Address: "ext@remote.example", Domain: "remote.example"}
	relay := store.RemoteTarget{Address: "x@relay.example", Domain: "relay.example", Relay: true}
	asked := rcptDSN{notify: "SUCCESS,FAILURE"}
	for _, tc := range []struct {
		name       string
		res        store.Resolution
		d          rcptDSN
		wantAction string
		want       rcptDSN
	}{
		{"mailbox", store.Resolution{Local: []store.LocalTarget{local}}, asked, "delivered",
			rcptDSN{notify: "SUCCESS,FAILURE", orcpt: "given@example.test", orcptType: "rfc822"}},
		{"single forward passes it on with ORCPT", store.Resolution{Remote: []store.RemoteTarget{fwd}}, asked, "",
			rcptDSN{notify: "SUCCESS,FAILURE", orcpt: "given@example.test", orcptType: "rfc822"}},
		{"relay passes it on as given", store.Resolution{Remote: []store.RemoteTarget{relay}}, asked, "", asked},
		{"own ORCPT kept", store.Resolution{Remote: []store.RemoteTarget{fwd}},
			rcptDSN{notify: "NEVER", orcpt: "first@x.example", orcptType: "utf-8"}, "",
			rcptDSN{notify: "NEVER", orcpt: "first@x.example", orcptType: "utf-8"}},
		{"expansion drops SUCCESS", store.Resolution{Local: []store.LocalTarget{local}, Remote: []store.RemoteTarget{fwd}},
			asked, "expanded", rcptDSN{notify: "FAILURE", orcpt: "given@example.test", orcptType: "rfc822"}},
		{"expansion of SUCCESS alone: NEVER", store.Resolution{Remote: []store.RemoteTarget{fwd, relay}},
			rcptDSN{notify: "SUCCESS"}, "expanded", rcptDSN{notify: "NEVER", orcpt: "given@example.test", orcptType: "rfc822"}},
		{"expansion without NOTIFY keeps the default", store.Resolution{Remote: []store.RemoteTarget{fwd, relay}},
			rcptDSN{}, "expanded", rcptDSN{orcpt: "given@example.test", orcptType: "rfc822"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			action, pass := forwardedDSN(tc.res, "given@example.test", tc.d)
			if action != tc.wantAction || pass != tc.want {
				t.Fatalf("got %q %+v, want %q %+v", action, pass, tc.wantAction, tc.want)
			}
		})
	}
}

func TestDSNEncodings(t *testing.T) {
	for _, tc := range []struct{ typ, addr, param, field string }{
		{"rfc822", "a+b=c@example.test", "rfc822;a+2Bb+3Dc@example.test", "rfc822; a+b=c@example.test"},
		{"", "a@example.test", "rfc822;a@example.test", "rfc822; a@example.test"},
		{"utf-8", "jörg@example.test", `utf-8;j\x{F6}rg@example.test`, `utf-8; j\x{F6}rg@example.test`},
	} {
		if got := orcptParam(tc.typ, tc.addr); got != tc.param {
			t.Errorf("orcptParam(%q, %q) = %q, want %q", tc.typ, tc.addr, got, tc.param)
		}
		if got := orcptField(tc.typ, tc.addr); got != tc.field {
			t.Errorf("orcptField(%q, %q) = %q, want %q", tc.typ, tc.addr, got, tc.field)
		}
	}
}
