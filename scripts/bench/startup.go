package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// startupProfile is what logingate does before main: the size of the
// binary, its package initialisers (GODEBUG=inittrace=1) and the heavy
// standard packages its dependencies pull in.
type startupProfile struct {
	binaryBytes int64
	inits       int           // package initialisers that ran
	initClock   time.Duration // their summed clock time, median of runs
	top         []initTime    // the slowest initialisers, from the median run
	heavy       []string      // "importer → package" for packages a gate should not need
}

type initTime struct {
	pkg   string
	clock time.Duration
}

// startupRuns is how many init traces are taken; the median one is shown.
const startupRuns = 21

// heavyPackages are standard packages a login gate has no use for; when a
// dependency links them in, start-up pays for their size and initialisers.
var heavyPackages = []string{"net/http", "html/template", "text/template", "crypto/tls"}

func startup(ctx context.Context, gate string, runs int) (*startupProfile, error) {
	p := &startupProfile{}
	if fi, err := os.Stat(gate); err == nil {
		p.binaryBytes = fi.Size()
	}
	type trace struct {
		total time.Duration
		inits []initTime
	}
	var traces []trace
	for range runs {
		cmd := exec.CommandContext(ctx, gate, "version")
		cmd.Env = baseEnv("GODEBUG=inittrace=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return nil, err
		}
		var t trace
		sc := bufio.NewScanner(&stderr)
		for sc.Scan() {
			// init PKG @T ms, C ms clock, B bytes, A allocs
			f := strings.Fields(sc.Text())
			if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
				continue
			}
			ms, err := strconv.ParseFloat(f[4], 64)
			if err != nil {
				continue
			}
			d := time.Duration(ms * float64(time.Millisecond))
			t.inits = append(t.inits, initTime{f[1], d})
			t.total += d
		}
		traces = append(traces, t)
	}
	slices.SortFunc(traces, func(a, b trace) int { return int(a.total - b.total) })
	mid := traces[len(traces)/2]
	p.inits, p.initClock = len(mid.inits), mid.total
	slices.SortFunc(mid.inits, func(a, b initTime) int { return int(b.clock - a.clock) })
	p.top = mid.inits[:min(5, len(mid.inits))]

	out, err := exec.CommandContext(ctx, "go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}} {{join .Imports \" \"}}{{end}}", "./cmd/logingate").Output()
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		for _, imp := range f[min(1, len(f)):] {
			if slices.Contains(heavyPackages, imp) {
				p.heavy = append(p.heavy, "`"+f[0]+"` → `"+imp+"`")
			}
		}
	}
	return p, nil
}
