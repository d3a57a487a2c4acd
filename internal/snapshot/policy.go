package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/policy"
)

// Compressor is the kopia compressor steward's snapshots use for file data.
// zstd at its fastest level compresses text and binaries about as well as
// restic's default (repository size is one of steward's targets) while
// costing little CPU; s2 is faster still but leaves repositories visibly
// larger, and kopia's own default stores data uncompressed.
const Compressor = "zstd-fastest"

// neverCompress lists file extensions whose contents are already compressed,
// so compressing them again costs CPU and saves nothing. Sorted: kopia
// searches it with a binary search.
var neverCompress = []string{
	".7z", ".avif", ".br", ".bz2", ".gz", ".heic", ".jpeg", ".jpg", ".lz4",
	".mkv", ".mov", ".mp3", ".mp4", ".png", ".rar", ".tgz", ".webm", ".webp",
	".xz", ".zip", ".zst",
}

// applyPolicy makes the kopia policy of source si say what req asks:
// req.Exclude as ignore rules (gitignore syntax, relative to the source) and
// steward's compression. The policy is stored in the repository, as `kopia
// policy set` would, so that `kopia policy show` explains a snapshot and a
// `kopia snapshot create` of the same source behaves the same. Settings a
// person made with the kopia CLI for other fields are kept. It writes only
// when something changed.
func applyPolicy(ctx context.Context, w repo.RepositoryWriter, si snapshot.SourceInfo, exclude []string) error {
	old, err := policy.GetDefinedPolicy(ctx, w, si)
	if errors.Is(err, policy.ErrPolicyNotFound) {
		old = &policy.Policy{}
	} else if err != nil {
		return fmt.Errorf("read policy of %s: %w", si, err)
	}
	pol := *old
	pol.Labels = nil
	pol.FilesPolicy.IgnoreRules = slices.Clone(exclude)
	pol.CompressionPolicy.CompressorName = Compressor
	pol.CompressionPolicy.NeverCompress = slices.Clone(neverCompress)

	was, err := json.Marshal(old)
	if err != nil {
		return fmt.Errorf("encode policy of %s: %w", si, err)
	}
	now, err := json.Marshal(&pol)
	if err != nil {
		return fmt.Errorf("encode policy of %s: %w", si, err)
	}
	if string(was) == string(now) {
		return nil
	}
	if err := policy.SetPolicy(ctx, w, si, &pol); err != nil {
		return fmt.Errorf("set policy of %s: %w", si, err)
	}
	return nil
}

// excludeInside returns an ignore rule that leaves dir out of a snapshot of
// source, if dir is inside source: a snapshot must not contain the
// repository it is written to, nor the cache that changes while it runs.
func excludeInside(source, dir string) (string, bool) {
	rel, err := filepath.Rel(source, dir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return "/" + filepath.ToSlash(rel) + "/", true
}
