package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
)

// recordHistory writes workflow id's history, as `temporal workflow show
// --output json` would, to ../workflows/testdata/name.json when
// STEWARD_RECORD_HISTORIES is set. The replay tests in package workflows
// replay every recorded history, so a workflow change that would break
// running plans fails CI. Refresh with:
//
//	STEWARD_RECORD_HISTORIES=1 go test ./e2e/
func recordHistory(t *testing.T, c client.Client, id, name string) {
	t.Helper()
	recordRunHistory(t, c, id, "", name)
}

// recordRunHistory records the history of one run of workflow id.
func recordRunHistory(t *testing.T, c client.Client, id, runID, name string) {
	t.Helper()
	if os.Getenv("STEWARD_RECORD_HISTORIES") == "" {
		return
	}
	iter := c.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		h.Events = append(h.Events, e)
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("..", "workflows", "testdata", name+".json")
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events of %s in %s", len(h.Events), id, file)
}
