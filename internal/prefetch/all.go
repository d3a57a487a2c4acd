package prefetch

import (
	"context"
	"sync"
)

// FetchAll fetches reqs with at most concurrency downloads at a time (at
// least one). results[i] and errs[i] belong to reqs[i]; one failure does not
// stop the others. progress may be called from several goroutines at once.
func (f *Fetcher) FetchAll(ctx context.Context, reqs []Request, concurrency int, progress func(Progress)) (results []Result, errs []error) {
	results = make([]Result, len(reqs))
	errs = make([]error, len(reqs))
	concurrency = max(concurrency, 1)
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, req := range reqs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			for j := i; j < len(reqs); j++ {
				errs[j] = ctx.Err()
			}
			wg.Wait()
			return results, errs
		}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i], errs[i] = f.Fetch(ctx, req, progress)
		})
	}
	wg.Wait()
	return results, errs
}
