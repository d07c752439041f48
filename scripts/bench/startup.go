package main

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// startupProfile is what logingate does before main: the size of the
// binary, its package initialisers (GODEBUG=inittrace=1, the median of
// startupRuns traces) and the standard packages a gate has no use for that
// its dependencies link in.
type startupProfile struct {
	binaryBytes int64
	initClock   time.Duration // the initialisers' summed clock time
	inits       []initTime    // slowest first
	heavy       []string      // "importer → package"
}

type initTime struct {
	pkg   string
	clock time.Duration
}

const startupRuns = 21

func startup(ctx context.Context, gate string) (*startupProfile, error) {
	var traces []startupProfile
	for range startupRuns {
		cmd := exec.CommandContext(ctx, gate, "version")
		cmd.Env = baseEnv("GODEBUG=inittrace=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return nil, err
		}
		var t startupProfile
		for _, l := range strings.Split(string(out), "\n") {
			// init PKG @T ms, C ms clock, B bytes, A allocs
			if f := strings.Fields(l); len(f) >= 7 && f[0] == "init" && f[6] == "clock," {
				ms, _ := strconv.ParseFloat(f[4], 64)
				t.inits = append(t.inits, initTime{f[1], time.Duration(ms * 1e6)})
				t.initClock += time.Duration(ms * 1e6)
			}
		}
		traces = append(traces, t)
	}
	slices.SortFunc(traces, func(a, b startupProfile) int { return int(a.initClock - b.initClock) })
	p := &traces[len(traces)/2]
	slices.SortFunc(p.inits, func(a, b initTime) int { return int(b.clock - a.clock) })
	if fi, err := os.Stat(gate); err == nil {
		p.binaryBytes = fi.Size()
	}
	out, err := exec.CommandContext(ctx, "go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}} {{join .Imports \" \"}}{{end}}", "./cmd/logingate").Output()
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		for _, imp := range f[min(1, len(f)):] {
			if slices.Contains([]string{"net/http", "html/template", "text/template", "crypto/tls"}, imp) {
				p.heavy = append(p.heavy, "`"+f[0]+"` → `"+imp+"`")
			}
		}
	}
	return p, err
}
