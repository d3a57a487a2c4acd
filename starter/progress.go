package main

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// sample is one reading of a job's progress: bytes done of total (total
// 0 when unknown) and a line of counts for people.
type sample struct {
	done, total int64
	info        string
}

// showBar draws a progress bar (mpb) on w from poll, read every half
// second, until the returned stop is called. A job of unknown size gets a
// spinner with the rate; one of known size a bar with percentage and ETA.
// Callers draw only on a terminal; opts can make mpb draw elsewhere.
func showBar(ctx context.Context, w io.Writer, name string, poll func() (sample, bool), opts ...mpb.ContainerOption) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	p := mpb.NewWithContext(ctx, append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithRefreshRate(200 * time.Millisecond)}, opts...)...)
	var mu sync.Mutex // last is read by mpb's goroutine
	var last sample
	info := decor.Any(func(decor.Statistics) string {
		mu.Lock()
		defer mu.Unlock()
		return last.info
	})
	var bar *mpb.Bar
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s, ok := poll()
			if !ok {
				continue
			}
			if bar == nil {
				start := time.Now()
				if s.total > 0 {
					bar = p.AddBar(s.total, mpb.BarWidth(30),
						mpb.PrependDecorators(decor.Name(name+" "), decor.Percentage(decor.WCSyncSpace)),
						mpb.AppendDecorators(decor.Name(" "), decor.CountersKibiByte("% .1f / % .1f"), decor.Name(", "), info,
							decor.Name(", "), decor.NewAverageSpeed(decor.SizeB1024(0), "% .1f", start), decor.Name(", ETA "), decor.AverageETA(decor.ET_STYLE_GO)))
				} else {
					bar = p.AddSpinner(0,
						mpb.PrependDecorators(decor.Name(name+" ")),
						mpb.AppendDecorators(decor.Name(" "), decor.CurrentKibiByte("% .1f"), decor.Name(", "), info,
							decor.Name(", "), decor.NewAverageSpeed(decor.SizeB1024(0), "% .1f", start)))
				}
			}
			mu.Lock()
			last = s
			mu.Unlock()
			if s.total > 0 {
				bar.SetTotal(s.total, false)
			}
			bar.SetCurrent(s.done)
		}
	}()
	return func() {
		close(done)
		<-finished
		if bar != nil {
			bar.Abort(false)
		}
		p.Wait()
		cancel()
	}
}
