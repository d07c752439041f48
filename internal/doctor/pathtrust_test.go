package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A ForceCommand whose -c goes through a link that config management made
// locks every user out of a setgid gate, which follows no link in a path
// its caller names: doctor says so, and names the real path. The real path
// itself draws no such finding.
func TestForceCommandConfigThroughALink(t *testing.T) {
	h := newTestHost(t, hardenedSpec(t))
	real := h.lgConfig
	link := filepath.Join(h.dir, "etc", "link.yaml")
	if err := os.Symlink("logingate.yaml", link); err != nil {
		t.Fatal(err)
	}
	dropin := filepath.Join(h.dropins, "00-logingate.conf")
	shipped, err := os.ReadFile(dropin)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path    string
		refused bool
	}{{link, true}, {real, false}} {
		fc := "ForceCommand " + h.binary
		if !strings.Contains(string(shipped), fc+"\n") {
			t.Fatalf("drop-in has no %q", fc)
		}
		writeFile(t, dropin, strings.Replace(string(shipped), fc+"\n", fc+" -c "+tt.path+"\n", 1), 0o644)
		h.lgConfig = "" // doctor reads the path from ForceCommand
		rep, _, stderr := doctorJSON(t, h)
		fs := find(rep, "config-path-refused")
		switch {
		case tt.refused && len(fs) != 1:
			t.Errorf("-c %s: findings %v, want one config-path-refused (stderr %q)", tt.path, ids(rep, ""), stderr)
		case tt.refused && (!strings.Contains(fs[0].Problem, link+" is a symbolic link") || !strings.Contains(fs[0].Fix, "-c "+real)):
			t.Errorf("-c %s: %+v", tt.path, fs[0])
		case !tt.refused && len(fs) != 0:
			t.Errorf("-c %s: %+v", tt.path, fs)
		}
	}
}
