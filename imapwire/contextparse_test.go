package imapwire

import (
	"errors"
	"reflect"
	"testing"
)

func TestReadContextCommands(t *testing.T) {
	all := []SearchKey{{Name: "ALL"}}
	for _, tc := range []struct {
		in   string
		name string
		args any
	}{
		{"a SEARCH RETURN (UPDATE CONTEXT PARTIAL 1:500) ALL\r\n", "SEARCH",
			&SearchArgs{HasReturn: true, Return: []string{"UPDATE", "CONTEXT", "PARTIAL"}, Partial: &PartialRange{1, 500}, Keys: all}},
		{"a SEARCH RETURN (partial -1:-100 count) CHARSET UTF-8 ALL\r\n", "SEARCH",
			&SearchArgs{HasReturn: true, Return: []string{"PARTIAL", "COUNT"}, Partial: &PartialRange{-1, -100}, Charset: "UTF-8", Keys: all}},
		{"a SEARCH RETURN (PARTIAL 500:400) ALL\r\n", "SEARCH",
			&SearchArgs{HasReturn: true, Return: []string{"PARTIAL"}, Partial: &PartialRange{400, 500}, Keys: all}},
		{"a CANCELUPDATE \"B01\"\r\n", "CANCELUPDATE", []string{"B01"}},
		{"a CANCELUPDATE \"B01\" \"x y\"\r\n", "CANCELUPDATE", []string{"B01", "x y"}},
	} {
		c, err := decoder(tc.in).ReadCommand()
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if c.Name != tc.name || !reflect.DeepEqual(c.Args, tc.args) {
			t.Errorf("%q: got %s %#v", tc.in, c.Name, c.Args)
		}
	}
}

func TestReadContextCommandErrors(t *testing.T) {
	for _, in := range []string{
		"a SEARCH RETURN (PARTIAL) ALL\r\n",
		"a SEARCH RETURN (PARTIAL 0:1) ALL\r\n",
		"a SEARCH RETURN (PARTIAL 1:*) ALL\r\n",
		"a SEARCH RETURN (PARTIAL -2:3) ALL\r\n",
		"a SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL\r\n",
		"a CANCELUPDATE\r\n",
		"a CANCELUPDATE B01\r\n",
		"a CANCELUPDATE \"B01\" \r\n",
		"a CANCELUPDATE {3}\r\nB01\r\n",
	} {
		d := decoder(in)
		d.Continue = func() error { return nil }
		d.MaxLiteral = 100
		_, err := d.ReadCommand()
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: %v", in, err)
		}
	}
}
