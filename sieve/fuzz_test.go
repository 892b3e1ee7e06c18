package sieve

import (
	"context"
	"errors"
	"testing"
)

// FuzzCompile compiles any input and runs what compiles: no panic, every
// compile error an *Error with a line inside the script, every run error a
// *RuntimeError.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		rfc5228Example,
		`require ["variables","fileinto"]; if header :matches "List-ID" "*<*@*" { fileinto "INBOX.lists.${2}"; stop; }`,
		"require \"reject\"; reject text:\r\nbye\r\n..\r\n.\r\n;",
		`require ["encoded-character"]; if header :is "x" "${hex:41}${unicode:1F600}" {keep;}`,
		`require ["date","index","relational"]; if date :index 1 :last :value "ge" "received" "year" "2000" {discard;}`,
		`require ["vacation","vacation-seconds"]; vacation :seconds 60 :subject "s" :handle "h" "r";`,
		`/* c */ # x` + "\n" + `if anyof(not true, allof(false)) {} elsif exists "a" {} else {}`,
	} {
		f.Add(s)
	}
	msg := NewMessage([]byte(listMsg))
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Compile(src, Options{})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 {
				t.Fatalf("compile error %v is not an *Error with a line", err)
			}
			return
		}
		_, err = Run(context.Background(), Input{Message: msg, Envelope: testEnv}, s)
		var re *RuntimeError
		if err != nil && !errors.As(err, &re) {
			t.Fatalf("run error %v is not a *RuntimeError", err)
		}
	})
}
