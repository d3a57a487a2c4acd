package prefetch

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageRegistryCredentialsFromDockerConfig: a registry that wants a
// login is reached with the credentials of the usual docker config
// ($DOCKER_CONFIG/config.json); without them the error says so.
func TestImageRegistryCredentialsFromDockerConfig(t *testing.T) {
	tr := newTestRegistry(t)
	tr.mu.Lock()
	tr.login = "puller:s3cret"
	tr.mu.Unlock()
	req := ImageRequest{Ref: tr.host + "/app:multi", Platforms: []string{"linux/amd64"}, AllowLoopback: true}

	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials
	f, c := testFetcher(t, nil)
	if _, _, err := f.FetchImage(context.Background(), req, nil); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("without credentials: %v; want the registry's UNAUTHORIZED", err)
	}
	if l, _ := c.List(); len(l) != 0 {
		t.Fatalf("cached %d entries without credentials", len(l))
	}

	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("puller:s3cret"))
	cfg := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, tr.host, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	_, results, err := f.FetchImage(context.Background(), req, nil)
	if err != nil {
		t.Fatalf("with the docker config's credentials: %v", err)
	}
	if want := len(blobsOf(t, tr.amd)); len(results) != want {
		t.Fatalf("fetched %d blobs, want %d", len(results), want)
	}
}
