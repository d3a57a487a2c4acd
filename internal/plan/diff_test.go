package plan

import (
	"reflect"
	"testing"
)

func TestDiffNamesEachChangedField(t *testing.T) {
	f, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	old := f.Plans[0]
	if d := Diff(old, old); len(d) != 0 {
		t.Fatalf("a plan differs from itself: %v", d)
	}
	// A plan as written and the same plan with its defaults spelled out
	// are the same plan.
	bare := old
	bare.Schedule.Anchor, bare.Schedule.Timezone = "", ""
	if d := Diff(old, bare); len(d) != 0 {
		t.Fatalf("defaults count as a change: %v", d)
	}

	f2, err := Parse([]byte(replace("schedule: {every: 1h}", `schedule: {every: 7m, jitter: 30s}`)))
	if err != nil {
		t.Fatal(err)
	}
	edited := f2.Plans[0]
	edited.Backup.Exclude = append(edited.Backup.Exclude, "*.bak")
	got := Diff(old, edited)
	want := []Change{
		{Path: "backup.exclude", Old: `["*.tmp"]`, New: `["*.tmp","*.bak"]`},
		{Path: "schedule.every", Old: "1h0m0s", New: "7m0s"},
		{Path: "schedule.jitter", Old: "", New: "30s"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("diff =\n%v\nwant\n%v", got, want)
	}
	if s := got[2].String(); s != "schedule.jitter: (none) -> 30s" {
		t.Errorf("change reads %q", s)
	}
	if len(old.Backup.Exclude) != 1 {
		t.Errorf("Diff changed its argument: %v", old.Backup.Exclude)
	}
}
