package mta

import (
	"bytes"
	"testing"

	"mailhost/store"
)

// FuzzCheckBody: message data passes exactly when it has no NUL byte and
// every LF ends a CRLF (the header is read by mailheader, fuzzed there).
func FuzzCheckBody(f *testing.F) {
	for _, s := range []string{"Subject: x\r\n\r\nbody", "A: b\nC: d\n\nbody", "x\r\n\x00\r\n", "\n", "\r\n", "a\r\r\n", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		bare := bytes.Count(msg, []byte("\n")) != bytes.Count(msg, []byte("\r\n"))
		want := bytes.IndexByte(msg, 0) < 0 && !bare
		if got := checkBody(msg) == nil; got != want {
			t.Fatalf("checkBody(%q) passes = %v, want %v", msg, got, want)
		}
	})
}

// FuzzRuleVerdict: any action text gives a well-formed reply.
func FuzzRuleVerdict(f *testing.F) {
	for _, s := range []string{"OK", "REJECT", "DISCARD", "550 5.7.1 no", "450 go away", "599", "421 4.7.0", "5xx", "550 4.1.1 x",
		"REJECT go away", "DEFER 4.7.1 later", "REJECT 4.7.1 wrong class", "HOLD why", "DUNNO"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, action string) {
		e := ruleVerdict(store.AccessRule{Kind: "client", Pattern: "x", Action: action}, "Client host", "1.2.3.4").reply
		if e != nil && (e.Code < 400 || e.Code > 599 || e.EnhancedCode[0] != e.Code/100) {
			t.Fatalf("action %q gave %d %v", action, e.Code, e.EnhancedCode)
		}
	})
}
