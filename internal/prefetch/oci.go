package prefetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ImageRequest names an image to preheat.
type ImageRequest struct {
	Ref string // "registry/repo:tag" or "registry/repo@sha256:..."
	// Platforms ("linux/amd64", "linux/arm64/v8") choose manifests from an
	// index; each must match exactly one. Empty: the index must hold exactly
	// one platform's manifest.
	Platforms     []string
	AllowLoopback bool
	AllowPrivate  bool
}

// Image is a resolved image: the blobs a host needs to run it.
type Image struct {
	Repository string // "registry/repo"
	Digest     string // the digest Ref pointed to (an index or a manifest)
	Manifests  []PlatformManifest
	// Blobs are every chosen manifest's config and layers, each once, in
	// manifest order.
	Blobs []Blob
}

// PlatformManifest is the image manifest chosen for a platform.
type PlatformManifest struct {
	Platform string
	Digest   string
}

// Blob is one content-addressed blob of a repository.
type Blob struct {
	Digest    string
	Size      int64
	MediaType string
}

// ResolveImage resolves req.Ref to the blobs of the requested platforms.
// Registry credentials come from the docker config (authn.DefaultKeychain);
// connections pass the same SSRF guard as Fetch.
func (f *Fetcher) ResolveImage(ctx context.Context, req ImageRequest) (Image, error) {
	img, err := f.resolveImage(ctx, req)
	if err != nil {
		return Image{}, fmt.Errorf("resolve image %s: %w", req.Ref, err)
	}
	return img, nil
}

func (f *Fetcher) resolveImage(ctx context.Context, req ImageRequest) (Image, error) {
	ref, err := name.ParseReference(req.Ref)
	if err != nil {
		return Image{}, err
	}
	var want []v1.Platform
	for _, s := range req.Platforms {
		p, err := v1.ParsePlatform(s)
		if err != nil {
			return Image{}, fmt.Errorf("platform %q: %w", s, err)
		}
		want = append(want, *p)
	}
	opts := f.remoteOptions(ctx, policyOf(req.AllowLoopback, req.AllowPrivate, f))
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return Image{}, err
	}
	out := Image{Repository: ref.Context().Name(), Digest: desc.Digest.String()}

	var images []v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return Image{}, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return Image{}, err
		}
		chosen, err := choose(im.Manifests, want)
		if err != nil {
			return Image{}, err
		}
		for _, m := range chosen {
			if !m.MediaType.IsImage() {
				return Image{}, fmt.Errorf("manifest %s for %s is %s, not an image", m.Digest, m.Platform, m.MediaType)
			}
			img, err := idx.Image(m.Digest)
			if err != nil {
				return Image{}, err
			}
			images = append(images, img)
			out.Manifests = append(out.Manifests, PlatformManifest{Platform: m.Platform.String(), Digest: m.Digest.String()})
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			return Image{}, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return Image{}, err
		}
		p := cf.Platform()
		if p == nil {
			p = &v1.Platform{}
		}
		for _, w := range want {
			if !p.Satisfies(w) {
				return Image{}, fmt.Errorf("%w: single-platform image is %s, not %s", ErrAmbiguous, p, w)
			}
		}
		images = append(images, img)
		out.Manifests = append(out.Manifests, PlatformManifest{Platform: p.String(), Digest: desc.Digest.String()})
	}

	seen := map[string]bool{}
	add := func(d v1.Descriptor) {
		if !seen[d.Digest.String()] {
			seen[d.Digest.String()] = true
			out.Blobs = append(out.Blobs, Blob{Digest: d.Digest.String(), Size: d.Size, MediaType: string(d.MediaType)})
		}
	}
	for _, img := range images {
		m, err := img.Manifest()
		if err != nil {
			return Image{}, err
		}
		add(m.Config)
		for _, l := range m.Layers {
			add(l)
		}
	}
	return out, nil
}

// choose picks one manifest per wanted platform, refusing a platform that
// matches none or several. Without wanted platforms the index must hold
// exactly one platform's manifest (attestations and other unknown/unknown
// entries aside).
func choose(manifests []v1.Descriptor, want []v1.Platform) ([]v1.Descriptor, error) {
	var real []v1.Descriptor
	var available []string
	for _, m := range manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" {
			continue
		}
		real = append(real, m)
		available = append(available, m.Platform.String())
	}
	if len(want) == 0 {
		if len(real) != 1 {
			return nil, fmt.Errorf("%w: the index has %d platforms (%s); name the ones to preheat", ErrAmbiguous, len(real), strings.Join(available, ", "))
		}
		return real, nil
	}
	var out []v1.Descriptor
	for _, w := range want {
		var match []v1.Descriptor
		for _, m := range real {
			if m.Platform.Satisfies(w) {
				match = append(match, m)
			}
		}
		switch {
		case len(match) == 0:
			return nil, fmt.Errorf("%w: no manifest for %s (the index has %s)", ErrAmbiguous, w, strings.Join(available, ", "))
		case len(match) > 1:
			return nil, fmt.Errorf("%w: %d manifests match %s; name the variant", ErrAmbiguous, len(match), w)
		}
		if !slices.ContainsFunc(out, func(d v1.Descriptor) bool { return d.Digest == match[0].Digest }) {
			out = append(out, match[0])
		}
	}
	return out, nil
}

// BlobRequest is one blob of a resolved image to preheat.
type BlobRequest struct {
	Repository    string // "registry/repo"
	Blob          Blob
	MaxSize       int64 // 0: unlimited
	AllowLoopback bool
	AllowPrivate  bool
}

// BlobKey is the cache key of a repository's blob.
func BlobKey(repository, digest string) string { return "oci://" + repository + "@" + digest }

// FetchBlob makes a blob available in the cache, verified against its digest
// and size; a cached blob costs no download.
func (f *Fetcher) FetchBlob(ctx context.Context, req BlobRequest, progress func(Progress)) (Result, error) {
	key := BlobKey(req.Repository, req.Blob.Digest)
	res, err := f.fetchBlob(ctx, key, req, progress)
	if err != nil {
		return Result{}, fmt.Errorf("fetch %s: %w", key, err)
	}
	return res, nil
}

func (f *Fetcher) fetchBlob(ctx context.Context, key string, req BlobRequest, progress func(Progress)) (Result, error) {
	if err := checkDigest(req.Blob.Digest); err != nil {
		return Result{}, err
	}
	if req.MaxSize > 0 && req.Blob.Size > req.MaxSize {
		return Result{}, fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrTooLarge, req.Blob.Size, req.MaxSize)
	}
	unlock, err := f.lock(ctx, key)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	c := f.cache
	if e, err := c.Lookup(key); err == nil && e.Digest == req.Blob.Digest {
		e, err := c.markUsed(key, e.Digest, false)
		if err == nil {
			return Result{Key: key, Digest: e.Digest, Size: e.Size, Path: c.blobPath(e.Digest), Cached: true}, nil
		}
		if !errors.Is(err, errGone) {
			return Result{}, err
		}
		// Evicted meanwhile: download it.
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return Result{}, err
	}
	repo, err := name.NewRepository(req.Repository)
	if err != nil {
		return Result{}, err
	}
	p := policyOf(req.AllowLoopback, req.AllowPrivate, f)
	auth, err := authn.DefaultKeychain.Resolve(repo)
	if err != nil {
		return Result{}, fmt.Errorf("registry credentials for %s: %w", repo.RegistryStr(), err)
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, f.client(p).Transport, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return Result{}, err
	}
	// The blob is fetched like any file (resumable, verified against its
	// digest), through the registry's authenticating transport.
	d := &download{
		f:        f,
		key:      key,
		client:   &http.Client{Transport: rt, CheckRedirect: p.checkRedirect},
		progress: progress,
		size:     req.Blob.Size,
		req: Request{
			URL:          fmt.Sprintf("%s://%s/v2/%s/blobs/%s", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr(), req.Blob.Digest),
			ExpectDigest: req.Blob.Digest,
			MaxSize:      req.MaxSize,
		},
	}
	return d.run(ctx)
}

// FetchImage resolves an image and fetches all its blobs, one after another.
func (f *Fetcher) FetchImage(ctx context.Context, req ImageRequest, progress func(Progress)) (Image, []Result, error) {
	img, err := f.ResolveImage(ctx, req)
	if err != nil {
		return Image{}, nil, err
	}
	var results []Result
	for _, b := range img.Blobs {
		res, err := f.FetchBlob(ctx, BlobRequest{Repository: img.Repository, Blob: b, AllowLoopback: req.AllowLoopback, AllowPrivate: req.AllowPrivate}, progress)
		if err != nil {
			return img, results, err
		}
		results = append(results, res)
	}
	return img, results, nil
}

func policyOf(loopback, private bool, f *Fetcher) Policy {
	return Policy{AllowLoopback: loopback, AllowPrivate: private, public: f.public}
}

func (f *Fetcher) remoteOptions(ctx context.Context, p Policy) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithTransport(f.client(p).Transport),
	}
}
