package snapshot

import (
	"fmt"
	"sync"

	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/upload"
)

// uploadProgress turns kopia's upload events into Progress reports and keeps
// the first error that fails the snapshot.
type uploadProgress struct {
	upload.NullUploadProgress

	report func(Progress)
	// known is set when a previous snapshot of the source already gave
	// the estimate: kopia's walk of the tree is then skipped.
	known bool

	mu    sync.Mutex
	p     Progress
	first error
}

// update applies f to the counters and reports the result.
func (u *uploadProgress) update(f func(*Progress)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f(&u.p)
	if u.report != nil {
		u.report(u.p)
	}
}

func (u *uploadProgress) err() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.first
}

// CachedFile is a file found unchanged since the previous snapshot.
func (u *uploadProgress) CachedFile(_ string, size int64) {
	u.update(func(p *Progress) { p.Bytes += size })
}

// HashedBytes is data read from a new or changed file.
func (u *uploadProgress) HashedBytes(n int64) {
	u.update(func(p *Progress) { p.Bytes += n })
}

// FinishedFile is a file done, read or found unchanged.
func (u *uploadProgress) FinishedFile(_ string, err error) {
	if err == nil {
		u.update(func(p *Progress) { p.Files++ })
	}
}

// FinishedDirectory is a directory done.
func (u *uploadProgress) FinishedDirectory(string) {
	u.update(func(p *Progress) { p.Dirs++ })
}

// Error keeps the first error that fails the snapshot.
func (u *uploadProgress) Error(path string, err error, ignored bool) {
	if ignored {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.first == nil {
		if path == "" {
			path = "."
		}
		u.first = fmt.Errorf("%s: %w", path, err)
	}
}

// Enabled makes kopia estimate the source's size, unless the estimate is
// known already. (It turns off nothing else.)
func (u *uploadProgress) Enabled() bool { return !u.known }

// estimateFrom takes the source's size from its previous complete
// snapshot: close enough for an ETA, and free, where kopia's estimate walks
// the whole tree a second time beside the upload (a fifth of a no-change
// backup's time).
func (u *uploadProgress) estimateFrom(previous []*snapshot.Manifest) {
	for _, m := range previous {
		if m.IncompleteReason == "" {
			u.known = true
			u.EstimatedDataSize(int64(m.Stats.TotalFileCount), m.Stats.TotalFileSize)
			return
		}
	}
}

// EstimationParameters asks for kopia's classic estimate, a walk of the
// source tree (the default of `kopia snapshot create`). The adaptive one
// counts the whole file system's usage when it holds many files, which
// says nothing of a source directory.
func (u *uploadProgress) EstimationParameters() upload.EstimationParameters {
	return upload.EstimationParameters{Type: upload.EstimationTypeClassic}
}

// EstimatedDataSize is kopia's estimate of the whole source.
func (u *uploadProgress) EstimatedDataSize(files, bytes int64) {
	u.update(func(p *Progress) { p.EstimatedFiles, p.EstimatedBytes = files, bytes })
}

// uploaded counts bytes written to the repository.
func (u *uploadProgress) uploaded(n int64) {
	u.update(func(p *Progress) { p.Uploaded += n })
}
