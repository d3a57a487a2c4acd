package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/steward-ops/steward/workflows/api"
)

// TestMaintenanceRunsOnItsTimersAndKopiaCLIReads: a backup plan with
// backup.maintenance {quick: 1m, full: 1m} runs kopia's full maintenance
// about a minute after it was created; status, plan show and the ledger
// say what it freed; and the kopia CLI opens steward's repository and lists
// its snapshots with their plan tags, and its maintenance owned by steward.
func TestMaintenanceRunsOnItsTimersAndKopiaCLIReads(t *testing.T) {
	t.Parallel() // waits a minute for its timer
	needKopia(t)
	s := newStack(t, "STEWARD_E2E_PASSWORD="+e2ePassword)
	s.start()
	src, repo := newBackupDirs(t, s)
	yaml := strings.Replace(backupPlanYAML("home", "24h", src, repo, "STEWARD_E2E_PASSWORD"), "      exclude:", "      maintenance: {quick: 1m, full: 1m}\n      exclude:", 1)
	s.mustSteward("plan", "apply", "-f", s.writePlans(yaml))
	s.mustSteward("trigger", "home", "--wait")

	c := s.client()
	var st api.Status
	waitFor(t, 3*time.Minute, "a maintenance of the repository", func() bool {
		st = s.status(c, "home")
		return st.Maintenance != nil && st.Maintenance.Last != nil
	})
	m := st.Maintenance
	if last := m.Last; last.Outcome != api.OutcomeSucceeded || !last.Full || last.Report == nil || last.Report.Maintenance == nil ||
		last.Report.Maintenance.BytesAfter == 0 || m.NextAt == nil || m.NextFullAt == nil || m.Failed {
		t.Fatalf("maintenance status %+v (last %+v)", m, m.Last)
	}
	if show := s.mustSteward("plan", "show", "home"); !strings.Contains(show, "Maintenance:") || !strings.Contains(show, "(full, freed") {
		t.Errorf("plan show lacks the maintenance:\n%s", show)
	}
	ledger, err := tryLedger(c, "home")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ledger {
		found = found || e.Outcome == api.LedgerMaintained && strings.Contains(e.Detail, "full maintenance freed")
	}
	if !found {
		t.Errorf("no full maintenance in the ledger: %+v", ledger)
	}

	// The kopia CLI, with its own config, reads the repository steward
	// made and maintains.
	kopia := connectKopia(t, repo, e2ePassword).run
	if out := kopia("snapshot", "list", "--all", "--tags", "plan:home", "--json"); !strings.Contains(out, `"tag:plan":"home"`) || !strings.Contains(out, `"tag:run":"steward/plan/home/run/`) {
		t.Errorf("kopia snapshot list --tags plan:home lacks steward's snapshot with its tags:\n%s", out)
	}
	if out := kopia("maintenance", "info"); !strings.Contains(out, "Owner: steward@e2e") {
		t.Errorf("kopia maintenance info does not name steward as the owner:\n%s", out)
	}
}
