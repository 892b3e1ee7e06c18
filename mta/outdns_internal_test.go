package mta

import (
	"errors"
	"slices"
	"testing"
)

// A backup MX delivers only to hosts more preferred than itself.
func TestWithoutSelf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hosts []string
		prefs []uint16
		want  []string
		loop  bool
	}{
		{"not listed", []string{"a", "b"}, []uint16{10, 20}, []string{"a", "b"}, false},
		{"backup", []string{"a", "me", "c"}, []uint16{10, 20, 30}, []string{"a"}, false},
		{"equal preference dropped", []string{"a", "b", "me"}, []uint16{10, 20, 20}, []string{"a"}, false},
		{"best", []string{"ME", "b"}, []uint16{10, 20}, nil, true},
		{"equal best", []string{"a", "me"}, []uint16{10, 10}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := withoutSelf(tc.hosts, tc.prefs, "me")
			if tc.loop != errors.Is(err, errLoop) || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v", got, err)
			}
		})
	}
}
