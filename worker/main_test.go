package main

import (
	"reflect"
	"testing"
)

func TestDynamicValue(t *testing.T) {
	for in, want := range map[string]any{
		"60":    60,
		"1.5":   1.5,
		"true":  true,
		`"abc"`: "abc",
	} {
		got, err := dynamicValue(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("dynamicValue(%s) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	if _, err := dynamicValue("{nope"); err == nil {
		t.Error("dynamicValue accepted bad JSON")
	}
}
