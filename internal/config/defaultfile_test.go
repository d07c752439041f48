package config

import (
	"os"
	"path/filepath"
	"testing"
)

// Without -c, a host that has login_duo's file and no logingate.yaml reads
// login_duo's: swapping the binary in the ForceCommand line just works.
func TestDefaultFile(t *testing.T) {
	dir := t.TempDir()
	yamlPath := filepath.Join(dir, "logingate", "logingate.yaml")
	iniPath := filepath.Join(dir, "duo", "login_duo.conf")
	write := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := DefaultFile(yamlPath, iniPath); got != yamlPath {
		t.Errorf("neither file: %s, want %s (so that the error names logingate's file)", got, yamlPath)
	}
	write(iniPath)
	if got := DefaultFile(yamlPath, iniPath); got != iniPath {
		t.Errorf("only login_duo.conf: %s, want %s", got, iniPath)
	}
	write(yamlPath)
	if got := DefaultFile(yamlPath, iniPath); got != yamlPath {
		t.Errorf("both files: %s, want logingate's own %s", got, yamlPath)
	}
	// A broken symlink exists: its error is Load's to report.
	os.Remove(yamlPath)
	if err := os.Symlink(filepath.Join(dir, "nowhere"), yamlPath); err != nil {
		t.Fatal(err)
	}
	if got := DefaultFile(yamlPath, iniPath); got != yamlPath {
		t.Errorf("dangling logingate.yaml link: %s, want %s", got, yamlPath)
	}
}
