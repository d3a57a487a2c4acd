package prefetch

import (
	"context"
	"sync"
)

// Item is one thing to fetch: a file (File) or a blob of a resolved image
// (Blob); exactly one is set.
type Item struct {
	File *Request
	Blob *BlobRequest
}

// Watch follows FetchAll: Progress as bytes of item i arrive, Done when
// item i ends. Either may be nil; both may be called from several
// goroutines at once.
type Watch struct {
	Progress func(i int, p Progress)
	Done     func(i int, r Result, err error)
}

// FetchAll fetches items with at most concurrency downloads at a time (at
// least one). results[i] and errs[i] belong to items[i]; one failure does not
// stop the others. Items not started when ctx ends get ctx's error.
func (f *Fetcher) FetchAll(ctx context.Context, items []Item, concurrency int, w Watch) (results []Result, errs []error) {
	results = make([]Result, len(items))
	errs = make([]error, len(items))
	sem := make(chan struct{}, max(concurrency, 1))
	var wg sync.WaitGroup
	for i, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			for j := i; j < len(items); j++ {
				errs[j] = ctx.Err()
			}
			wg.Wait()
			return results, errs
		}
		wg.Go(func() {
			defer func() { <-sem }()
			var progress func(Progress)
			if w.Progress != nil {
				progress = func(p Progress) { w.Progress(i, p) }
			}
			if it.Blob != nil {
				results[i], errs[i] = f.FetchBlob(ctx, *it.Blob, progress)
			} else {
				results[i], errs[i] = f.Fetch(ctx, *it.File, progress)
			}
			if w.Done != nil {
				w.Done(i, results[i], errs[i])
			}
		})
	}
	wg.Wait()
	return results, errs
}
