// Package prefetch is steward's preheat engine: it downloads files over HTTP(S)
// and OCI image blobs into a content-addressed cache on the local host,
// verifying every byte against its sha256 digest.
//
// The cache (see Cache) keeps blobs under blobs/sha256/<hex> and one index file
// per cache key; everything is written to a tmp/ directory, fsynced and renamed
// into place, so a reader never sees a partial file. Several processes may
// share a cache directory: flock(2) locks serialise downloads of a key and
// every index change or removal among them. Fetch adds resumable,
// revalidating HTTP downloads guarded against SSRF; ResolveImage and FetchImage
// do the same for OCI images through go-containerregistry.
//
// The package knows nothing of Temporal: activities/preheat adapts it.
package prefetch
