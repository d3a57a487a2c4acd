package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/steward-ops/steward/activities"
	"github.com/steward-ops/steward/activities/preheat"
	"github.com/steward-ops/steward/internal/control"
	"github.com/steward-ops/steward/internal/plan"
	"github.com/steward-ops/steward/internal/prefetch"
	"github.com/steward-ops/steward/workflows/api"
)

// defaultCacheDir is the worker's default --cache-dir, for `steward cache`.
var defaultCacheDir = filepath.Join(".steward", "cache")

func preheatCommand() *cli.Command {
	return &cli.Command{
		Name:      "preheat",
		Usage:     "download files or an OCI image into the caches of worker hosts, once",
		ArgsUsage: "URL...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "image", Usage: "preheat the OCI image `REF` (like registry.example.com/app:1.4)"},
			&cli.StringSliceFlag{Name: "platform", Usage: "image platform `OS/ARCH` to preheat (repeatable; default: the image's only one)"},
			&cli.StringFlag{Name: "urls-from", Usage: "read more URLs from `FILE`, one per line"},
			&cli.StringFlag{Name: "digest", Usage: "expected `sha256:HEX` of the one URL given"},
			&cli.StringSliceFlag{Name: "header", Usage: "request header `'NAME: VALUE'` (repeatable); put secrets in ${ENV} references, resolved on each host"},
			&cli.StringSliceFlag{Name: "filtered-query-param", Usage: "query `PARAM` left out of the cache key (repeatable; default: the usual S3/GCS signature parameters)"},
			&cli.StringFlag{Name: "hosts", Usage: "`all`, or comma-separated worker hosts to warm (default: any one worker)"},
			&cli.IntFlag{Name: "concurrency", Value: plan.DefaultConcurrency, Usage: "downloads at a time on each host"},
			&cli.StringFlag{Name: "cache-dir", Usage: "cache `DIR` on the hosts (default: each worker's --cache-dir)"},
			&cli.StringFlag{Name: "max-file-size", Usage: "refuse any file larger than `SIZE` (like 10GiB)"},
			&cli.BoolFlag{Name: "allow-loopback", Usage: "allow loopback addresses (127.0.0.0/8, ::1)"},
			&cli.BoolFlag{Name: "allow-private", Usage: "allow private addresses (RFC 1918, fc00::/7, 100.64.0.0/10)"},
			&cli.IntFlag{Name: "attempts", Value: plan.DefaultActivityRetry.MaxAttempts, Usage: "tries of each host's fetch (resuming) before the preheat fails"},
			&cli.BoolFlag{Name: "wait", Usage: "wait for the preheat, showing its progress, and report each host"},
			outputFlag,
		},
		Action: runPreheat,
	}
}

// preheatSpec builds the one-off preheat the flags describe.
func preheatSpec(c *cli.Context) (plan.Preheat, error) {
	p := plan.Preheat{
		Image:         c.String("image"),
		Platforms:     c.StringSlice("platform"),
		Concurrency:   c.Int("concurrency"),
		Cache:         plan.Cache{Dir: c.String("cache-dir")},
		AllowLoopback: c.Bool("allow-loopback"),
		AllowPrivate:  c.Bool("allow-private"),
	}
	if c.IsSet("filtered-query-param") {
		p.FilteredQueryParams = c.StringSlice("filtered-query-param")
	}
	urls := c.Args().Slice()
	if f := c.String("urls-from"); f != "" {
		more, err := readLines(f)
		if err != nil {
			return p, err
		}
		urls = append(urls, more...)
	}
	if p.Image != "" && len(urls) > 0 {
		return p, errors.New("give URLs or --image, not both")
	}
	if p.Image == "" && len(urls) == 0 {
		return p, errors.New("give the URLs to preheat, or --image REF (see steward preheat --help)")
	}
	for _, u := range urls {
		p.URLs = append(p.URLs, plan.URL{URL: u})
	}
	if d := c.String("digest"); d != "" {
		if len(p.URLs) != 1 {
			return p, errors.New("--digest needs exactly one URL")
		}
		p.URLs[0].Digest = d
	}
	for _, h := range c.StringSlice("header") {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return p, fmt.Errorf("--header %q: want 'NAME: VALUE'", h)
		}
		if p.Headers == nil {
			p.Headers = map[string]string{}
		}
		p.Headers[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	switch h := c.String("hosts"); h {
	case "":
	case "all":
		p.Hosts.All = true
	default:
		for _, name := range strings.Split(h, ",") {
			p.Hosts.Names = append(p.Hosts.Names, strings.TrimSpace(name))
		}
	}
	if s := c.String("max-file-size"); s != "" {
		n, err := plan.ParseSize(s)
		if err != nil {
			return p, fmt.Errorf("--max-file-size: %w", err)
		}
		p.MaxFileSize = n
	}
	return p, nil
}

func readLines(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--urls-from: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--urls-from %s: %w", name, err)
	}
	return out, nil
}

// preheatReport is what `steward preheat --output json` prints.
type preheatReport struct {
	ID     string                `json:"id"`
	RunID  string                `json:"run_id"`
	Joined bool                  `json:"joined"`
	Result *api.PreheatRunResult `json:"result,omitempty"`
	Error  *string               `json:"error"`
}

func runPreheat(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	spec, err := preheatSpec(c)
	if err != nil {
		return err
	}
	if c.Int("attempts") < 1 {
		return fmt.Errorf("--attempts %d: must be at least 1", c.Int("attempts"))
	}
	cl, _, err := dial(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	retry := plan.DefaultActivityRetry
	retry.MaxAttempts = c.Int("attempts")
	run, joined, err := control.StartPreheat(ctx(c), cl, control.OneOffPreheat{Preheat: spec, Retry: retry})
	if err != nil {
		return err
	}
	rep := preheatReport{ID: run.GetID(), RunID: run.GetRunID(), Joined: joined}
	if !c.Bool("wait") {
		if asJSON {
			return writeJSON(c, rep)
		}
		verb := "started"
		if joined {
			verb = "joined the identical preheat already running:"
		}
		fmt.Fprintf(c.App.Writer, "preheat %s %s (steward preheat ... --wait to follow it)\n", verb, run.GetID())
		return nil
	}
	if !asJSON && joined {
		fmt.Fprintf(c.App.ErrWriter, "joined the identical preheat already running: %s\n", run.GetID())
	}
	stopBar := func() {}
	if !asJSON && isTerminal(c.App.ErrWriter) {
		stopBar = showBar(ctx(c), c.App.ErrWriter, "preheat", func() (sample, bool) { return preheatSample(ctx(c), cl, run) })
	}
	res, runErr := control.PreheatResult(ctx(c), run)
	stopBar()
	rep.Result = &res
	if runErr != nil {
		msg := runErr.Error()
		rep.Error = &msg
	}
	if asJSON {
		if err := writeJSON(c, rep); err != nil {
			return err
		}
	} else {
		renderPreheat(c.App.Writer, res)
	}
	if runErr != nil {
		return fmt.Errorf("preheat %s failed: %w", run.GetID(), runErr)
	}
	return nil
}

// preheatSample reads the fetches' heartbeats for the bar.
func preheatSample(ctx context.Context, cl client.Client, run client.WorkflowRun) (sample, bool) {
	ps, err := control.PreheatProgress(ctx, cl, run.GetID(), run.GetRunID())
	if err != nil || len(ps) == 0 {
		return sample{}, false
	}
	return sumPreheat(ps), true
}

// sumPreheat sums the hosts' progress into one reading; the total is
// unknown (0) when any host does not know its size.
func sumPreheat(ps []activities.PreheatProgress) sample {
	var s activities.PreheatProgress
	for _, p := range ps {
		s.Items += p.Items
		s.Done += p.Done
		s.BytesDone += p.BytesDone
		if p.Bytes < 0 || s.Bytes < 0 {
			s.Bytes = -1
		} else {
			s.Bytes += p.Bytes
		}
	}
	return sample{done: s.BytesDone, total: max(s.Bytes, 0), info: fmt.Sprintf("%d/%d items, %d hosts", s.Done, s.Items, len(ps))}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// renderPreheat prints a preheat's report, one line per host.
func renderPreheat(w io.Writer, r api.PreheatRunResult) {
	if r.ImageDigest != "" {
		fmt.Fprintf(w, "image %s (%s)\n", r.ImageDigest, strings.Join(r.Platforms, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tITEMS\tSIZE\tDOWNLOADED\tCACHED\tRESUMED\tFAILED\tCACHE")
	for _, h := range r.Hosts {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\n", dash(h.Host), h.Items, bytesText(h.Bytes), bytesText(h.Downloaded), h.Cached, h.Resumed, h.Failed, dash(h.CacheDir))
	}
	tw.Flush()
	for _, h := range r.Hosts {
		for _, e := range h.Errors {
			fmt.Fprintf(w, "%s: %s\n", dash(h.Host), e)
		}
	}
	for _, h := range r.Offline {
		fmt.Fprintf(w, "%s: skipped, no worker polls its queue\n", h)
	}
}

func cacheCommand() *cli.Command {
	dir := &cli.StringFlag{Name: "dir", Value: defaultCacheDir, Usage: "the cache `DIR` on this machine (a worker's --cache-dir or a plan's cache.dir)"}
	return &cli.Command{
		Name:  "cache",
		Usage: "look at and evict this machine's preheat cache",
		Subcommands: []*cli.Command{
			{Name: "ls", Usage: "list cached entries, most recently used first", Flags: []cli.Flag{dir, outputFlag}, Action: cacheList},
			{Name: "path", Usage: "print the file holding KEY (a URL, or oci://REPO@DIGEST)", ArgsUsage: "KEY", Flags: []cli.Flag{dir}, Action: cachePath},
			{
				Name:  "evict",
				Usage: "remove entries: by key, past a TTL, above a size (least recently used first), or all",
				Flags: []cli.Flag{
					dir,
					&cli.StringSliceFlag{Name: "key", Usage: "remove `KEY` (repeatable)"},
					&cli.StringFlag{Name: "ttl", Usage: "remove entries not used for `DURATION`"},
					&cli.StringFlag{Name: "max-size", Usage: "remove least recently used entries until the cache holds at most `SIZE`"},
					&cli.BoolFlag{Name: "all", Usage: "remove every entry"},
					outputFlag,
				},
				Action: cacheEvict,
			},
		},
	}
}

// openCache opens an existing cache directory: a typo must not create an
// empty cache and report it as empty.
func openCache(dir string, opts prefetch.CacheOptions) (*prefetch.Cache, error) {
	if _, err := os.Stat(filepath.Join(dir, "index")); err != nil {
		return nil, fmt.Errorf("no preheat cache in %s (give the worker's --cache-dir or the plan's cache.dir with --dir)", dir)
	}
	opts.Now = time.Now
	return prefetch.OpenCache(dir, opts)
}

func cacheList(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	cache, err := openCache(c.String("dir"), prefetch.CacheOptions{})
	if err != nil {
		return err
	}
	entries, err := cache.List()
	if err != nil {
		return err
	}
	slices.SortStableFunc(entries, func(a, b prefetch.Entry) int { return b.LastUsed.Compare(a.LastUsed) })
	if asJSON {
		if entries == nil {
			entries = []prefetch.Entry{}
		}
		return writeJSON(c, entries)
	}
	if len(entries) == 0 {
		fmt.Fprintf(c.App.Writer, "the cache %s is empty\n", cache.Dir())
		return nil
	}
	now := time.Now()
	var total int64
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tDIGEST\tSIZE\tLAST USED\tFETCHED")
	for _, e := range entries {
		total += e.Size
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Key, shortDigest(e.Digest), bytesText(e.Size), when(&e.LastUsed, now), when(&e.Fetched, now))
	}
	tw.Flush()
	fmt.Fprintf(c.App.Writer, "%d entries, %s\n", len(entries), bytesText(total))
	return nil
}

func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

// cacheKey finds the entry a user means: the key as given, or the URL with
// the default filtered query parameters left out, as preheats store it.
func cacheKey(cache *prefetch.Cache, arg string) (string, error) {
	if _, err := cache.Lookup(arg); err == nil {
		return arg, nil
	}
	if k, err := prefetch.Key(arg, nil); err == nil {
		if _, err := cache.Lookup(k); err == nil {
			return k, nil
		}
	}
	return "", fmt.Errorf("%s is not in the cache %s (see steward cache ls --dir %s)", arg, cache.Dir(), cache.Dir())
}

func cachePath(c *cli.Context) error {
	if c.NArg() != 1 {
		return errors.New("cache path takes one KEY (see steward cache ls)")
	}
	cache, err := openCache(c.String("dir"), prefetch.CacheOptions{})
	if err != nil {
		return err
	}
	key, err := cacheKey(cache, c.Args().First())
	if err != nil {
		return err
	}
	p, err := cache.Path(key)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, p)
	return nil
}

func cacheEvict(c *cli.Context) error {
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	keys := c.StringSlice("key")
	var opts prefetch.CacheOptions
	if s := c.String("ttl"); s != "" {
		d, err := plan.ParseDuration(s)
		if err != nil || d <= 0 {
			return fmt.Errorf("--ttl %q: want a positive duration like 7d or 36h", s)
		}
		opts.TTL = d
	}
	if s := c.String("max-size"); s != "" {
		n, err := plan.ParseSize(s)
		if err != nil {
			return fmt.Errorf("--max-size: %w", err)
		}
		opts.MaxSize = int64(n)
		if n == 0 {
			return errors.New("--max-size 0 would remove everything: say --all")
		}
	}
	all := c.Bool("all")
	if len(keys) == 0 && opts.TTL == 0 && opts.MaxSize == 0 && !all {
		return errors.New("say what to evict: --key KEY, --ttl DURATION, --max-size SIZE or --all")
	}
	cache, err := openCache(c.String("dir"), opts)
	if err != nil {
		return err
	}
	var removed []prefetch.Entry
	if all {
		entries, err := cache.List()
		if err != nil {
			return err
		}
		for _, e := range entries {
			keys = append(keys, e.Key)
		}
	}
	for _, arg := range keys {
		key, err := cacheKey(cache, arg)
		if err != nil {
			return err
		}
		e, err := cache.Lookup(key)
		if err != nil {
			return err
		}
		if err := cache.Remove(key); err != nil {
			return err
		}
		removed = append(removed, e)
	}
	if opts.TTL > 0 || opts.MaxSize > 0 {
		evicted, err := cache.Evict(time.Now())
		if err != nil {
			return err
		}
		removed = append(removed, evicted...)
	}
	if asJSON {
		if removed == nil {
			removed = []prefetch.Entry{}
		}
		return writeJSON(c, removed)
	}
	var freed int64
	for _, e := range removed {
		freed += e.Size
		fmt.Fprintf(c.App.Writer, "evicted %s (%s)\n", e.Key, bytesText(e.Size))
	}
	fmt.Fprintf(c.App.Writer, "%d entries evicted, %s freed\n", len(removed), bytesText(freed))
	return nil
}

func hostsCommand() *cli.Command {
	return &cli.Command{
		Name:  "hosts",
		Usage: "list the worker hosts that registered (the hosts of preheats with hosts: all)",
		Flags: []cli.Flag{outputFlag},
		Action: func(c *cli.Context) error {
			return show(c, func(cl client.Client) ([]activities.Host, error) {
				opts, err := connection(c).Options()
				if err != nil {
					return nil, err
				}
				return preheat.Hosts(ctx(c), cl, opts.Namespace)
			}, renderHosts)
		},
	}
}

func renderHosts(w io.Writer, hosts []activities.Host, now time.Time) {
	if len(hosts) == 0 {
		fmt.Fprintln(w, "no worker host has registered yet (start a worker)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tONLINE\tFIRST SEEN\tLAST STARTED")
	for _, h := range hosts {
		online := "no"
		if h.Online != nil && *h.Online {
			online = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.Host, online, when(&h.FirstSeen, now), when(&h.LastSeen, now))
	}
	tw.Flush()
}
