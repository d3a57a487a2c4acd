package api

import (
	"encoding/json"
	"testing"
	"time"
)

// TestRunReportReadsLegacyResults: the results run workflows returned
// before the run report existed, still held by recorded histories, read as
// reports of their kind; a report reads as itself; Fill puts each kind's
// details into the run record.
func TestRunReportReadsLegacyResults(t *testing.T) {
	var b RunReport
	if err := json.Unmarshal([]byte(`{"snapshot_id":"k1","files":3,"bytes":30,"reused":true,"forgotten":2,"kept":3,"uploaded":7}`), &b); err != nil {
		t.Fatal(err)
	}
	if b.Kind != RunKindBackup || b.Files != 3 || b.Bytes != 30 || !b.Reused || b.Backup == nil ||
		b.Backup.SnapshotID != "k1" || b.Backup.Forgotten != 2 || b.Backup.Kept != 3 || b.Backup.Uploaded != 7 {
		t.Errorf("legacy backup result read as %+v (%+v)", b, b.Backup)
	}
	var p RunReport
	if err := json.Unmarshal([]byte(`{"hosts":[{"host":"a","items":2}],"items":2,"bytes":20,"downloaded":5,"next_expiry":"2026-01-02T00:00:00Z"}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.Kind != RunKindPreheat || p.Files != 2 || p.Bytes != 20 || p.Preheat == nil || p.Preheat.Downloaded != 5 ||
		len(p.Preheat.Hosts) != 1 || p.Preheat.NextExpiry == nil {
		t.Errorf("legacy preheat result read as %+v (%+v)", p, p.Preheat)
	}
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	in := RunReport{Kind: RunKindBackup, Start: now, End: now.Add(time.Minute), Files: 4, Bytes: 40, Reused: true,
		Backup: &BackupDetails{SnapshotID: "k2", Uploaded: 9, Forgotten: 1}}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out RunReport
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	if out.Kind != in.Kind || !out.End.Equal(in.End) || out.Backup == nil || *out.Backup != *in.Backup {
		t.Errorf("round trip: %s read as %+v", raw, out)
	}
	var rec RunRecord
	out.Fill(&rec)
	if rec.SnapshotID != "k2" || rec.Files != 4 || rec.Bytes != 40 || !rec.Reused || rec.Uploaded != 9 || rec.Forgotten != 1 {
		t.Errorf("backup record %+v", rec)
	}
	var prec RunRecord
	p.Fill(&prec)
	if prec.Downloaded != 5 || prec.Files != 2 || prec.SnapshotID != "" {
		t.Errorf("preheat record %+v", prec)
	}
	var empty RunReport
	if err := json.Unmarshal([]byte(`{}`), &empty); err != nil || empty.Kind != "" {
		t.Errorf("an empty result: %+v, %v", empty, err)
	}
}
