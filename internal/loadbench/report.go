package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report prints the results as a human table and, with -markdown, as
// Markdown for README.md.
func report(w io.Writer, cfg config, env envInfo, results []*scenarioResult) {
	header := []string{"scenario", "target", "req/s", "MiB/s", "p50 ms", "p99 ms", "CPU µs/req", "peak RSS MiB"}
	var rows [][]string
	for _, sr := range results {
		for _, r := range sr.results {
			if len(r.rps) == 0 {
				continue
			}
			cpu, rss := "-", "-"
			if r.proxy {
				cpu = fmt.Sprintf("%.0f", median(r.cpu))
				rss = fmt.Sprintf("%.0f", float64(r.rss)/(1<<20))
			}
			rows = append(rows, []string{sr.sc.name, r.target, fmt.Sprintf("%.0f", median(r.rps)), fmt.Sprintf("%.1f", median(r.mibps)),
				msNum(median(r.p50)), msNum(median(r.p99)), cpu, rss})
		}
	}
	ratioHeader := []string{"scenario", "aadproxy ÷ engine req/s", "CPU/req", "p99", "aadproxy ÷ mitmdump req/s"}
	var ratios [][]string
	for _, sr := range results {
		a, e, m := sr.find(aadproxy), sr.find(engine), sr.find(mitmdump)
		if a == nil || (e == nil && m == nil) {
			continue
		}
		ratios = append(ratios, []string{sr.sc.name,
			ratio(a, e, func(r *result) float64 { return median(r.rps) }),
			ratio(a, e, func(r *result) float64 { return median(r.cpu) }),
			ratio(a, e, func(r *result) float64 { return float64(median(r.p99)) }),
			ratio(a, m, func(r *result) float64 { return median(r.rps) }),
		})
	}
	var checks []string
	for _, sr := range results {
		for _, c := range sr.checks {
			checks = append(checks, sr.sc.name+": "+c)
		}
		for _, r := range sr.results {
			if b := median(r.busy); b >= time.Second {
				checks = append(checks, fmt.Sprintf("%s: %s stayed busy %.0fs after each window (median; counted in its CPU per request)", sr.sc.name, r.target, b.Seconds()))
			}
			for _, n := range r.notes {
				checks = append(checks, fmt.Sprintf("%s: %s %s", sr.sc.name, r.target, n))
			}
		}
		if sr.err != nil {
			checks = append(checks, fmt.Sprintf("%s: FAILED: %v", sr.sc.name, sr.err))
		}
	}
	about := fmt.Sprintf("%d round(s) × %s per target (warm-up %s), medians over rounds", cfg.rounds, cfg.seconds, cfg.warmup)
	for _, sr := range results {
		switch sr.sc.kind {
		case counted:
			about += fmt.Sprintf("; %s: %d flows", sr.sc.name, cfg.flows)
		case crash:
			about += fmt.Sprintf("; %s: kill -9 after %s", sr.sc.name, cfg.lagAfter)
		}
	}
	if cfg.smokeMode {
		about += fmt.Sprintf("; smoke: windows capped at %d requests or %d MiB", smokeWindowRequests, smokeWindowBytes>>20)
	}
	about += fmt.Sprintf(". CPU per request and peak RSS are the proxy process's own. %d CPUs, %s, %s.", env.cpus, runtime.Version(), env.mitmdump)

	fmt.Fprintf(w, "\n%s\n\n", about)
	humanTable(w, header, rows)
	fmt.Fprintln(w)
	humanTable(w, ratioHeader, ratios)
	fmt.Fprintln(w)
	for _, c := range checks {
		fmt.Fprintln(w, c)
	}
	if !cfg.markdown {
		return
	}
	fmt.Fprintf(w, "\n<!-- loadbench Markdown, %s -->\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(w, "Measured with `%s`: %s\n\n", cfg.cmdline, about)
	markdownTable(w, header, rows)
	fmt.Fprintln(w)
	markdownTable(w, ratioHeader, ratios)
	fmt.Fprintln(w)
	for _, c := range checks {
		fmt.Fprintf(w, "- %s\n", c)
	}
}

func (sr *scenarioResult) find(name string) *result {
	for _, r := range sr.results {
		if r.target == name && len(r.rps) > 0 {
			return r
		}
	}
	return nil
}

// ratio is f(a) ÷ f(b), or "-" when either is missing.
func ratio(a, b *result, f func(*result) float64) string {
	if a == nil || b == nil || f(b) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", f(a)/f(b))
}

func humanTable(w io.Writer, header []string, rows [][]string) {
	width := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range append([][]string{header}, rows...) {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i == 0 || (i == 1 && header[1] == "target") {
				b.WriteString(c + pad + "  ")
			} else {
				b.WriteString(pad + c + "  ")
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func markdownTable(w io.Writer, header []string, rows [][]string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(header, " | "))
	align := make([]string, len(header))
	for i := range align {
		align[i] = "--:"
		if i == 0 || (i == 1 && header[1] == "target") {
			align[i] = "---"
		}
	}
	fmt.Fprintf(w, "|%s|\n", strings.Join(align, "|"))
	for _, r := range rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
}

// median is the middle value (the mean of the two middle ones for an even
// count), for rates and durations alike.
func median[T ~int64 | ~float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// msNum prints a latency in milliseconds with three significant digits.
func msNum(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 1:
		return fmt.Sprintf("%.3f", v)
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func ms(d time.Duration) string { return msNum(d) + " ms" }

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
