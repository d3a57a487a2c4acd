package snapshot_test

import (
	"fmt"
	"testing"

	"github.com/steward-ops/steward/internal/snapshot"
	"github.com/steward-ops/steward/internal/snapshot/snapshottest"
)

// A snapshot's progress carries kopia's estimate of the source (the tree
// walked beside the upload), not of the file system it lies on: the files
// and bytes of the tree, known before the snapshot is done. The next
// snapshot takes the estimate from the previous one, from its start.
func TestSnapshotProgressEstimatesTheSource(t *testing.T) {
	r := snapshottest.Open(t, snapshottest.Options(t))
	files := map[string]string{}
	var size int64
	for i := range 300 {
		files[fmt.Sprintf("d%d/f%d", i%10, i)] = fmt.Sprint(i)
		size += int64(len(fmt.Sprint(i)))
	}
	src := snapshottest.WriteTree(t, files)
	var first, last snapshot.Progress
	_, err := r.Snapshot(t.Context(), snapshot.Request{Source: src}, func(p snapshot.Progress) {
		if p.EstimatedFiles > 0 && first.EstimatedFiles == 0 {
			first = p
		}
		last = p
	})
	if err != nil {
		t.Fatal(err)
	}
	if first.EstimatedFiles != 300 || first.EstimatedBytes != size || last.EstimatedFiles != 300 {
		t.Fatalf("estimate %d files, %d bytes (last %+v); want the source's 300 files, %d bytes", first.EstimatedFiles, first.EstimatedBytes, last, size)
	}

	var reports []snapshot.Progress
	if _, err := r.Snapshot(t.Context(), snapshot.Request{Source: src}, func(p snapshot.Progress) { reports = append(reports, p) }); err != nil {
		t.Fatal(err)
	}
	if len(reports) == 0 || reports[0].EstimatedFiles != 300 || reports[0].EstimatedBytes != size {
		t.Fatalf("second snapshot's first report %+v: want the previous snapshot's 300 files, %d bytes", reports, size)
	}
}
