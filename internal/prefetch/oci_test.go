package prefetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry is an OCI registry on loopback holding app:multi (linux/amd64
// and linux/arm64, sharing a layer) and app:single (one image, no index).
type testRegistry struct {
	host      string
	blobGets  atomic.Int64
	amd, arm  v1.Image
	shared    v1.Layer
	indexHash v1.Hash

	mu     sync.Mutex
	cut    string   // digest whose next GET is cut half-way
	ranges []string // Range headers of blob GETs
	login  string   // "user:password" required (basic auth) when set
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		login := tr.login
		tr.mu.Unlock()
		if user, pass, ok := r.BasicAuth(); login != "" && (!ok || user+":"+pass != login) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"login required"}]}`, http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			tr.blobGets.Add(1)
			tr.mu.Lock()
			tr.ranges = append(tr.ranges, r.Header.Get("Range"))
			cut := tr.cut != "" && strings.HasSuffix(r.URL.Path, tr.cut)
			tr.cut = ""
			tr.mu.Unlock()
			if cut {
				// Send half the blob, then drop the connection.
				rec := httptest.NewRecorder()
				reg.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.WriteHeader(rec.Code)
				w.Write(body[:len(body)/2])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")

	var err error
	tr.shared, err = random.Layer(2048, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(arch string) v1.Image {
		img, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.AppendLayers(img, tr.shared)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	tr.amd, tr.arm = mk("amd64"), mk("arm64")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: tr.amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: tr.arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	if tr.indexHash, err = idx.Digest(); err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tr.ref(t, "app:multi"), idx); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tr.ref(t, "app:single"), tr.amd); err != nil {
		t.Fatal(err)
	}
	return tr
}

func (tr *testRegistry) ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(tr.host + "/" + s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// blobsOf returns the config and layer digests of imgs, each once.
func blobsOf(t *testing.T, imgs ...v1.Image) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	for _, img := range imgs {
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if !seen[d.Digest.String()] {
				seen[d.Digest.String()] = true
				out = append(out, d.Digest.String())
			}
		}
	}
	return out
}

func TestImageTwoPlatformsCachedAndVerified(t *testing.T) {
	tr := newTestRegistry(t)
	f, c := testFetcher(t, nil)
	req := ImageRequest{Ref: tr.host + "/app:multi", Platforms: []string{"linux/amd64", "linux/arm64"}, AllowLoopback: true}
	img, results, err := f.FetchImage(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest != tr.indexHash.String() || len(img.Manifests) != 2 {
		t.Errorf("image = %+v", img)
	}
	want := blobsOf(t, tr.amd, tr.arm)
	if len(want) != 5 { // 2 configs, 2 own layers, 1 shared layer
		t.Fatalf("test image has %d blobs", len(want))
	}
	var got []string
	for _, b := range img.Blobs {
		got = append(got, b.Digest)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("blobs = %v, want %v", got, want)
	}
	for _, r := range results {
		b, err := os.ReadFile(r.Path)
		if err != nil {
			t.Fatal(err)
		}
		if digestOf(b) != r.Digest || r.Downloaded != int64(len(b)) {
			t.Errorf("%s: cached content has digest %s (%d bytes downloaded)", r.Digest, digestOf(b), r.Downloaded)
		}
	}
	if l, _ := c.List(); len(l) != 5 {
		t.Errorf("cache has %d entries, want 5", len(l))
	}

	// Again: every blob is a cache hit.
	gets := tr.blobGets.Load()
	_, results, err = f.FetchImage(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Cached || r.Downloaded != 0 {
			t.Errorf("second fetch of %s: %+v, want a hit", r.Digest, r)
		}
	}
	if n := tr.blobGets.Load() - gets; n != 0 {
		t.Errorf("second fetch made %d blob requests", n)
	}

	// The same image under another repository: known blobs are not
	// downloaded again, only recorded under their new keys.
	if err := remote.WriteIndex(tr.ref(t, "mirror:multi"), mustIndex(t, tr)); err != nil {
		t.Fatal(err)
	}
	gets = tr.blobGets.Load()
	_, results, err = f.FetchImage(context.Background(), ImageRequest{Ref: tr.host + "/mirror:multi", Platforms: req.Platforms, AllowLoopback: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := tr.blobGets.Load() - gets; n != 0 || !results[0].Cached {
		t.Errorf("mirror fetch made %d blob requests, want 0", n)
	}
	if l, _ := c.List(); len(l) != 10 {
		t.Errorf("cache has %d entries, want 10 keys", len(l))
	}
	if b := files(t, c.Dir(), "blobs/sha256"); len(b) != 5 {
		t.Errorf("cache has %d blobs, want 5", len(b))
	}
}

func mustIndex(t *testing.T, tr *testRegistry) v1.ImageIndex {
	t.Helper()
	idx, err := remote.Index(tr.ref(t, "app:multi"))
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestImageOnePlatformOfIndex(t *testing.T) {
	tr := newTestRegistry(t)
	f, _ := testFetcher(t, nil)
	img, err := f.ResolveImage(context.Background(), ImageRequest{Ref: tr.host + "/app:multi", Platforms: []string{"linux/arm64"}, AllowLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range img.Blobs {
		got = append(got, b.Digest)
	}
	if want := blobsOf(t, tr.arm); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("blobs = %v, want arm64's %v", got, want)
	}
}

func TestImageSingleManifest(t *testing.T) {
	tr := newTestRegistry(t)
	f, _ := testFetcher(t, nil)
	img, err := f.ResolveImage(context.Background(), ImageRequest{Ref: tr.host + "/app:single", AllowLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Blobs) != 3 || img.Manifests[0].Platform != "linux/amd64" {
		t.Errorf("image = %+v", img)
	}
	_, err = f.ResolveImage(context.Background(), ImageRequest{Ref: tr.host + "/app:single", Platforms: []string{"linux/arm64"}, AllowLoopback: true})
	if !errors.Is(err, ErrAmbiguous) {
		t.Errorf("wrong platform: %v, want refused", err)
	}
}

func TestImageAmbiguousRejected(t *testing.T) {
	tr := newTestRegistry(t)
	f, c := testFetcher(t, nil)
	for _, tc := range []struct {
		platforms []string
		want      string
	}{
		{nil, "2 platforms"},
		{[]string{"linux/s390x"}, "no manifest for linux/s390x"},
		{[]string{"linux"}, "2 manifests match"},
	} {
		_, _, err := f.FetchImage(context.Background(), ImageRequest{Ref: tr.host + "/app:multi", Platforms: tc.platforms, AllowLoopback: true}, nil)
		if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("platforms %v: %v, want %q", tc.platforms, err, tc.want)
		}
	}
	assertEmpty(t, c)
}

func TestImageRegistryOnLoopbackRefusedUnlessAllowed(t *testing.T) {
	tr := newTestRegistry(t)
	f, _ := testFetcher(t, nil)
	_, err := f.ResolveImage(context.Background(), ImageRequest{Ref: tr.host + "/app:multi", Platforms: []string{"linux/amd64"}})
	if !errors.Is(err, ErrRefused) {
		t.Errorf("ResolveImage = %v, want refused", err)
	}
}

func TestBlobTamperedRejected(t *testing.T) {
	tr := newTestRegistry(t)
	f, c := testFetcher(t, nil)
	m, err := tr.amd.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	// A tampering registry (or proxy) answers with other bytes of the
	// right size.
	b := Blob{Digest: m.Layers[0].Digest.String(), Size: m.Layers[0].Size}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", int(b.Size))))
	}))
	t.Cleanup(proxy.Close)
	_, err = f.FetchBlob(context.Background(), BlobRequest{Repository: strings.TrimPrefix(proxy.URL, "http://") + "/app", Blob: b, AllowLoopback: true}, nil)
	if !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("FetchBlob = %v, want a digest mismatch", err)
	}
	assertEmpty(t, c)
}

func TestBlobResumesAfterInterruption(t *testing.T) {
	tr := newTestRegistry(t)
	f, c := testFetcher(t, nil)
	m, err := tr.amd.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	l := m.Layers[0]
	tr.mu.Lock()
	tr.cut = l.Digest.String()
	tr.mu.Unlock()
	req := BlobRequest{Repository: tr.host + "/app", Blob: Blob{Digest: l.Digest.String(), Size: l.Size}, AllowLoopback: true}
	if _, err := f.FetchBlob(context.Background(), req, nil); !errors.Is(err, ErrTruncated) {
		t.Fatalf("interrupted FetchBlob = %v, want ErrTruncated", err)
	}
	assertEmpty(t, c)
	res, err := f.FetchBlob(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(b) != l.Digest.String() || !res.Resumed || res.Downloaded != l.Size-l.Size/2 {
		t.Errorf("result %+v (content %s), want the second half resumed", res, digestOf(b))
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if got := tr.ranges[len(tr.ranges)-1]; got != fmt.Sprintf("bytes=%d-%d", l.Size/2, l.Size-1) {
		t.Errorf("second GET Range = %q", got)
	}
}
