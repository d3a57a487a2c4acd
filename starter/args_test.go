package main

import (
	"io"
	"strings"
	"testing"
)

func TestInterspersedMovesPositionalsAfterFlags(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	cases := []struct{ in, want string }{
		{"steward pause home --for 2h --reason x", "steward pause --for 2h --reason x -- home"},
		{"steward pause home --for -5m", "steward pause --for -5m -- home"},
		{"steward --address 127.0.0.1:1 pause home --mode=all", "steward --address 127.0.0.1:1 pause --mode=all -- home"},
		{"steward trigger home --force --reason r", "steward trigger --force --reason r -- home"},
		{"steward plan show home -o json", "steward plan show -o json -- home"},
		{"steward plan apply -f x.yaml", "steward plan apply -f x.yaml"},
		{"steward unpause -- -odd-id", "steward unpause -- -odd-id"},
		{"steward", "steward"},
	}
	for _, tc := range cases {
		got := strings.Join(interspersed(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("interspersed(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
