package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/internal/prefetch"
	"github.com/steward-ops/steward/workflows/api"
)

// TestPreheatPlansOnTwoHosts: two preheat plans (two files; a two-platform
// image from a real registry) warm the caches of two worker processes
// started with different --host, one named in the plan and one found through
// hosts: all. Every cached blob matches its digest on both hosts, and a
// second preheat of the same content downloads nothing.
func TestPreheatPlansOnTwoHosts(t *testing.T) {
	s := newStack(t)
	s.start()
	h2 := startHostWorker(t, s, "h2")

	files := newContentServer(t, "127.0.0.1")
	a := files.add("/models/a.bin", randomBytes(3<<20, 1))
	b := files.add("/models/b.txt", []byte("weights of model b\n"))
	reg := newRegistry(t)

	planFile := s.writePlans(fmt.Sprintf(`
plans:
  - id: files
    kind: preheat
    schedule: {every: 1h}
    preheat:
      urls:
        - %s
        - {url: "%s", digest: "%s"}
      hosts: [e2e, h2]
      allow_loopback: true
  - id: image
    kind: preheat
    schedule: {every: 1h}
    preheat:
      image: %s
      platforms: [linux/amd64, linux/arm64]
      hosts: all
      allow_loopback: true
`, files.url(a), files.url(b), digestOf(files.body(b)), reg.ref))
	s.mustSteward("plan", "apply", "-f", planFile)
	if out := s.mustSteward("hosts"); tableRows(out, "e2e ", "yes") != 1 || tableRows(out, "h2 ", "yes") != 1 {
		t.Fatalf("steward hosts does not list both workers as online:\n%s", out)
	}
	c := s.client()
	runOnce := func(id string) api.RunRecord {
		t.Helper()
		before := s.status(c, id).Counters.Runs
		s.mustSteward("trigger", id)
		var st api.Status
		waitFor(t, 2*time.Minute, id+" to finish a run", func() bool {
			st = s.status(c, id)
			return st.Counters.Runs > before && st.LastRun != nil && st.LastRun.Finished != nil && st.State != api.StateRunning
		})
		if st.LastRun.Outcome != api.OutcomeSucceeded {
			t.Fatalf("%s: run %s: %s", id, st.LastRun.Outcome, deref(st.LastRun.Error))
		}
		return *st.LastRun
	}

	first := runOnce("files")
	size := int64(len(files.body(a)) + len(files.body(b)))
	if first.Files != 2 || first.Bytes != size || first.Downloaded != 2*size {
		t.Errorf("files run: %d items, %d bytes, %d downloaded; want 2 items, %d bytes on each of two hosts", first.Files, first.Bytes, first.Downloaded, size)
	}
	img := runOnce("image")
	if img.Files != int64(len(reg.blobs)) || img.Downloaded == 0 {
		t.Errorf("image run: %d items, %d downloaded; want the %d blobs of both platforms", img.Files, img.Downloaded, len(reg.blobs))
	}

	// Both hosts hold everything, each blob verified by reading it back.
	want := []string{files.url(a), files.url(b)}
	for _, d := range reg.blobs {
		want = append(want, prefetch.BlobKey(reg.repo, d))
	}
	for _, dir := range []string{s.cacheDir(), h2.cacheDir} {
		verifyCache(t, dir, want)
	}
	out := s.mustSteward("cache", "path", files.url(a), "--dir", h2.cacheDir)
	got, err := os.ReadFile(strings.TrimSpace(out))
	if err != nil || !bytes.Equal(got, files.body(a)) {
		t.Fatalf("steward cache path gave %q: content differs (%v)", out, err)
	}

	// A second preheat of the same content downloads 0 bytes.
	sent := files.sentBytes()
	if again := runOnce("files"); again.Downloaded != 0 || again.Files != 2 {
		t.Errorf("second files run downloaded %d bytes of %d items, want 0", again.Downloaded, again.Files)
	}
	if again := runOnce("image"); again.Downloaded != 0 {
		t.Errorf("second image run downloaded %d bytes, want 0", again.Downloaded)
	}
	if now := files.sentBytes(); now != sent {
		t.Errorf("the file server sent %d more body bytes for the second preheat", now-sent)
	}
	if out := s.mustSteward("runs", "files"); !strings.Contains(out, "2 items") {
		t.Errorf("steward runs files does not show the report:\n%s", out)
	}
	last := s.status(c, "files").LastRun
	recordHistory(t, c, plan.WorkflowID("files"), "preheat-plan")
	recordHistory(t, c, last.ID, "preheat-run")
	recordHistory(t, c, activities.HostsWorkflowID, "hosts")
}

// TestPreheatResumesAfterKill9: a worker killed with SIGKILL in the middle of
// a download leaves only a partial file in tmp/ (never a visible entry); the
// retry, on the restarted worker, resumes with Range and completes, and the
// identical one-off request made meanwhile joins the same run.
func TestPreheatResumesAfterKill9(t *testing.T) {
	s := newStack(t)
	s.start()
	h2 := startHostWorker(t, s, "h2")
	files := newContentServer(t, "127.0.0.1")
	big := files.add("/big.bin", randomBytes(48<<20, 2))
	files.throttle(big, 20*time.Millisecond) // per 256 KiB: about 12 MiB/s
	url := files.url(big)
	args := []string{"preheat", "--hosts", "h2", "--allow-loopback", url}

	out := s.mustSteward(args...)
	if !strings.Contains(out, "preheat started steward/preheat/") {
		t.Fatalf("steward preheat: %s", out)
	}
	tmp := filepath.Join(h2.cacheDir, "tmp")
	waitFor(t, time.Minute, "part of the file to arrive on h2", func() bool { return dirBytes(tmp) > 4<<20 })
	if out, err := s.steward("cache", "path", url, "--dir", h2.cacheDir); err == nil {
		t.Fatalf("a partial download is visible in the cache: %s", out)
	}
	h2.kill9()
	held := dirBytes(tmp)
	if held < 4<<20 || held >= int64(len(files.body(big))) {
		t.Fatalf("after kill -9, tmp/ holds %d bytes; want a partial download", held)
	}
	verifyCache(t, h2.cacheDir, nil)

	h2.start()
	out = s.mustSteward(append([]string{"preheat", "--wait", "--output", "json"}, args[1:]...)...)
	var rep struct {
		Joined bool                 `json:"joined"`
		Result api.PreheatRunResult `json:"result"`
		Error  *string              `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if !rep.Joined || rep.Error != nil || len(rep.Result.Hosts) != 1 {
		t.Fatalf("the identical request did not join the run, or it failed:\n%s", out)
	}
	h := rep.Result.Hosts[0]
	if h.Host != "h2" || h.Resumed != 1 || h.Downloaded >= int64(len(files.body(big))) {
		t.Errorf("report %+v: want h2 to resume and download less than the whole file", h)
	}
	if r := files.ranges(); len(r) == 0 || r[0] == "bytes=0-" {
		t.Errorf("Range requests seen: %q; want one resuming past 0", r)
	}
	verifyCache(t, h2.cacheDir, []string{url})
}

// TestPreheatRefusesBadContent: content that does not match its digest, a
// truncated body, a lying Content-Length, the metadata address, file:// and a
// redirect to loopback are all refused with clear errors, and nothing is
// cached.
func TestPreheatRefusesBadContent(t *testing.T) {
	s := newStack(t)
	s.start()
	files := newContentServer(t, "127.0.0.1")
	good := randomBytes(64<<10, 3)
	tampered := files.add("/tampered.bin", append(bytes.Clone(good[:len(good)-1]), 'x'))
	files.handle("/truncated.bin", rawResponse("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", good[:5000]))
	files.handle("/longer.bin", rawResponse("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", good[:2000]))

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"digest mismatch", []string{"--allow-loopback", "--digest", digestOf(good), files.url(tampered)}, "digest mismatch"},
		{"truncated body", []string{"--allow-loopback", files.base + "/truncated.bin"}, "truncated body"},
		{"lying Content-Length", []string{"--allow-loopback", "--digest", digestOf(good[:2000]), files.base + "/longer.bin"}, "digest mismatch"},
		{"metadata address", []string{"--allow-loopback", "--allow-private", "http://169.254.169.254/latest/meta-data/"},
			"link-local and cloud metadata addresses are always refused"},
		{"file URL", []string{"file:///etc/passwd"}, "file:// URLs are refused: only http and https are fetched"},
		{"loopback not allowed", []string{files.url(tampered)}, "loopback addresses are refused unless allow_loopback is true"},
	}
	if ip, private := outboundIP(); ip != "" {
		// A server on this machine's own non-loopback address redirects to
		// loopback: the guard checks the redirect, not just the first URL.
		other := newContentServer(t, ip)
		other.handle("/redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, files.url(tampered), http.StatusFound)
		})
		args := []string{other.base + "/redirect"}
		if private {
			args = append([]string{"--allow-private"}, args...)
		}
		cases = append(cases, struct {
			name string
			args []string
			want string
		}{"redirect to loopback", args, "is a loopback address (not allowed by the plan)"})
	} else {
		t.Log("no non-loopback IPv4 address on this machine: the redirect case runs only in internal/prefetch's tests")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := s.steward(append([]string{"preheat", "--wait", "--attempts", "1", "--hosts", "e2e"}, tc.args...)...)
			if err == nil {
				t.Fatalf("steward preheat succeeded:\n%s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("error does not say %q:\n%s", tc.want, out)
			}
			verifyCache(t, s.cacheDir(), nil)
		})
	}
	t.Run("apply checks every host", func(t *testing.T) {
		file := s.writePlans(`
plans:
  - id: warm
    kind: preheat
    schedule: {every: 1h}
    preheat:
      urls: [https://files.example.com/a]
      headers: {Authorization: "Bearer ${STEWARD_E2E_UNSET_TOKEN}"}
      hosts: [e2e, nope]
`)
		out, err := s.steward("plan", "apply", "-f", file)
		for _, want := range []string{
			"plans[0].preheat.headers.Authorization: environment variable STEWARD_E2E_UNSET_TOKEN is not set on host e2e",
			"plans[0].preheat.hosts[1]: no worker of host nope answered within 30s",
			"nothing was applied",
		} {
			if err == nil || !strings.Contains(out, want) {
				t.Errorf("plan apply (%v) does not say %q:\n%s", err, want, out)
			}
		}
		if out := s.mustSteward("plan", "ls"); !strings.Contains(out, "no plans") {
			t.Errorf("a plan was applied:\n%s", out)
		}
	})
}

// hostWorker is a worker process of another host, connected to a stack's
// server.
type hostWorker struct {
	t        *testing.T
	s        *stack
	host     string
	cacheDir string
	cmd      *exec.Cmd
	out      lockedBuffer
	done     chan struct{}
}

func startHostWorker(t *testing.T, s *stack, host string) *hostWorker {
	t.Helper()
	w := &hostWorker{t: t, s: s, host: host, cacheDir: filepath.Join(t.TempDir(), "cache-"+host)}
	t.Cleanup(func() {
		w.kill9()
		if t.Failed() {
			t.Logf("worker %s output:\n%s", host, w.out.String())
		}
	})
	w.start()
	return w
}

func (w *hostWorker) start() {
	w.t.Helper()
	w.cmd, w.done = launchWorker(w.t, "worker "+w.host, []string{"--address", w.s.addr(), "--host", w.host, "--cache-dir", w.cacheDir}, w.s.env, &w.out)
}

func (w *hostWorker) kill9() {
	if w.cmd == nil || w.cmd.Process == nil {
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.done
	w.cmd = nil
}

// contentServer serves files over real HTTP with ETag and Last-Modified, so
// preheats can revalidate and resume; it counts the body bytes it sends and
// records Range headers.
type contentServer struct {
	base string
	mux  *http.ServeMux

	mu     sync.Mutex
	files  map[string][]byte
	delay  map[string]time.Duration
	sent   int64
	rangeH []string
}

func newContentServer(t *testing.T, ip string) *contentServer {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	cs := &contentServer{mux: http.NewServeMux(), files: map[string][]byte{}, delay: map[string]time.Duration{}}
	srv := httptest.NewUnstartedServer(cs.mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	cs.base = srv.URL
	return cs
}

func (cs *contentServer) add(path string, body []byte) string {
	cs.mu.Lock()
	cs.files[path] = body
	cs.mu.Unlock()
	modified := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cs.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		cs.mu.Lock()
		delay := cs.delay[path]
		if rg := r.Header.Get("Range"); rg != "" {
			cs.rangeH = append(cs.rangeH, rg)
		}
		cs.mu.Unlock()
		w.Header().Set("ETag", `"`+digestOf(body)[7:23]+`"`)
		http.ServeContent(&countingWriter{ResponseWriter: w, cs: cs, delay: delay}, r, path, modified, bytes.NewReader(body))
	})
	return path
}

func (cs *contentServer) handle(path string, h http.HandlerFunc) { cs.mux.HandleFunc(path, h) }

func (cs *contentServer) throttle(path string, perChunk time.Duration) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.delay[path] = perChunk
}

func (cs *contentServer) url(path string) string { return cs.base + path }

func (cs *contentServer) body(path string) []byte {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.files[path]
}

func (cs *contentServer) sentBytes() int64 {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.sent
}

func (cs *contentServer) ranges() []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]string(nil), cs.rangeH...)
}

// countingWriter counts body bytes and, when throttled, writes them in
// 256 KiB chunks with a pause after each.
type countingWriter struct {
	http.ResponseWriter
	cs    *contentServer
	delay time.Duration
}

func (w *countingWriter) Write(p []byte) (int, error) {
	const chunk = 256 << 10
	n := 0
	for len(p) > 0 {
		k := min(len(p), chunk)
		m, err := w.ResponseWriter.Write(p[:k])
		n += m
		w.cs.mu.Lock()
		w.cs.sent += int64(m)
		w.cs.mu.Unlock()
		if err != nil {
			return n, err
		}
		p = p[k:]
		if w.delay > 0 {
			time.Sleep(w.delay)
		}
	}
	return n, nil
}

// rawResponse answers with exactly head and body on the raw connection, then
// closes it: a server whose Content-Length lies.
func rawResponse(head string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString(head)
		_, _ = buf.Write(body)
		_ = buf.Flush()
	}
}

// testRegistry is go-containerregistry's registry on loopback holding a
// two-platform image.
type testRegistry struct {
	repo  string   // "127.0.0.1:PORT/app"
	ref   string   // repo + ":multi"
	blobs []string // config and layer digests of both platforms
}

func newRegistry(t *testing.T) *testRegistry {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	tr := &testRegistry{repo: strings.TrimPrefix(srv.URL, "http://") + "/app"}
	tr.ref = tr.repo + ":multi"
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(512<<10, 2)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
		cfg, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		tr.blobs = append(tr.blobs, cfg.String())
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			d, err := l.Digest()
			if err != nil {
				t.Fatal(err)
			}
			tr.blobs = append(tr.blobs, d.String())
		}
	}
	ref, err := name.ParseReference(tr.ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, mutate.AppendManifests(empty.Index, adds...)); err != nil {
		t.Fatal(err)
	}
	return tr
}

// verifyCache checks a cache directory holds exactly the keys want, and that
// every blob file's content matches its name, and that no file outside tmp/
// and locks/ is anything but a complete entry.
func verifyCache(t *testing.T, dir string, want []string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "index")); os.IsNotExist(err) && len(want) == 0 {
		return // never opened: nothing cached
	}
	cache, err := prefetch.OpenCache(dir, prefetch.CacheOptions{Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := cache.List()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		got[e.Key] = e.Digest
	}
	for _, k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("%s: no entry for %s", dir, k)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s holds %d entries, want %d: %v", dir, len(got), len(want), got)
	}
	blobs, _ := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
	for _, b := range blobs {
		data, err := os.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		if d := digestOf(data); d != "sha256:"+filepath.Base(b) {
			t.Errorf("%s: blob %s holds content with digest %s", dir, filepath.Base(b), d)
		}
	}
	if len(blobs) > len(want) {
		t.Errorf("%s: %d blob files for %d entries", dir, len(blobs), len(want))
	}
}

func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && !strings.HasSuffix(fi.Name(), ".json") {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// outboundIP is an IPv4 address of this machine other than loopback, and
// whether it is a private one.
func outboundIP() (string, bool) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", false
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.To4() == nil || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		ip := ipn.IP.To4()
		return ip.String(), ip.IsPrivate() || (ip[0] == 100 && ip[1]&0xc0 == 64)
	}
	return "", false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestPreheatPauseModeAllCancelsDownload: a preheat plan is a plan like any
// other: pause with mode all cancels the download in flight (the activity
// hears it through its heartbeats), the run is recorded as cancelled, and
// nothing partial is visible in the cache.
func TestPreheatPauseModeAllCancelsDownload(t *testing.T) {
	s := newStack(t)
	s.start()
	files := newContentServer(t, "127.0.0.1")
	big := files.add("/slow.bin", randomBytes(32<<20, 4))
	files.throttle(big, 50*time.Millisecond) // about 5 MiB/s: minutes to finish
	s.mustSteward("plan", "apply", "-f", s.writePlans(fmt.Sprintf(`
plans:
  - id: slow
    kind: preheat
    schedule: {every: 24h}
    preheat:
      urls: [%s]
      allow_loopback: true
`, files.url(big))))
	c := s.client()
	s.mustSteward("trigger", "slow")
	tmp := filepath.Join(s.cacheDir(), "tmp")
	waitFor(t, time.Minute, "the download to start", func() bool { return dirBytes(tmp) > 1<<20 })
	s.mustSteward("pause", "slow", "--mode", "all", "--reason", "maintenance")
	var st api.Status
	waitFor(t, time.Minute, "the run to be cancelled", func() bool {
		st = s.status(c, "slow")
		return st.LastRun != nil && st.LastRun.Outcome == api.OutcomeCancelled
	})
	if st.State != api.StatePaused || st.Counters.Cancelled != 1 {
		t.Fatalf("after pause mode all: state %s, counters %+v", st.State, st.Counters)
	}
	sent := files.sentBytes()
	time.Sleep(3 * time.Second)
	if now := files.sentBytes(); now > sent+(1<<20) {
		t.Errorf("the download went on after the run was cancelled: %d more bytes", now-sent)
	}
	verifyCache(t, s.cacheDir(), nil)
}
