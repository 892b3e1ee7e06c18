package mta

import (
	"bytes"
	"testing"

	"mailhost/store"
)

// FuzzParseHeader: the header scanner never panics, and the fields it
// finds lie within the header section.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"Subject: x\r\n\r\nbody", "Received: a\r\n\tb\r\nTo: x\r\n\r\n", "no header\r\n", ":\r\n",
		"A: b\nC: d\n\nbody", " folded first\r\n", "Delivered-To: a@b\r\nDelivered-To: c@d\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		h := parseHeader(msg)
		for _, fl := range h.fields {
			if fl.name == "" || bytes.ContainsAny([]byte(fl.name), " \t\r\n") {
				t.Fatalf("bad field name %q", fl.name)
			}
		}
		_ = checkBody(msg)
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
