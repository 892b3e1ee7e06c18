package api

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"mailhost/admin"
)

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"example.com","max_mailboxes":5}`, `{"destinations":["a@b.c"]}`, `[]`, `{"active_from":"2030-01-01T00:00:00Z"}`, `{"x":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, dst := range []any{&admin.DomainInput{}, &admin.AliasInput{}, &admin.VacationInput{}} {
			r := httptest.NewRequest("POST", "/", strings.NewReader(body))
			err := decode(httptest.NewRecorder(), r, dst)
			var ve *admin.ValidationError
			if err != nil && !errors.Is(err, errMalformed) && !errors.Is(err, errTooLarge) && !errors.As(err, &ve) {
				t.Fatalf("untyped error %v", err)
			}
			if errors.As(err, &ve) && len(ve.Fields) == 0 {
				t.Fatal("validation error without fields")
			}
		}
	})
}
