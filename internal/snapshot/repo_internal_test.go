package snapshot

import (
	"testing"

	"github.com/kopia/kopia/repo"
)

// Repositories steward creates hash with BLAKE3 (see Hash).
func TestCreatedRepositoriesHashWithBLAKE3(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(t.Context(), Options{Repository: dir + "/repo", Password: "pw", Create: true, ConfigDir: dir + "/kopia"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(t.Context())
	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		t.Fatalf("%T is not a direct repository", r.rep)
	}
	if got := dr.ContentReader().ContentFormat().GetHashFunction(); got != Hash {
		t.Errorf("hash %s, want %s", got, Hash)
	}
}
