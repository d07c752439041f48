package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// The usual ForceCommand line names no -c: with no logingate.yaml and a
// login_duo.conf, the gate reads the latter; -c still wins.
func TestGlobalsDefaultConfig(t *testing.T) {
	dir := t.TempDir()
	yamlPath, iniPath := filepath.Join(dir, "logingate.yaml"), filepath.Join(dir, "login_duo.conf")
	defer func(a, b string) { defaultConfig, defaultLoginDuoConfig = a, b }(defaultConfig, defaultLoginDuoConfig)
	defaultConfig, defaultLoginDuoConfig = yamlPath, iniPath
	if err := os.WriteFile(iniPath, []byte("[duo]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g, _, _, err := parseGlobals([]string{"true"})
	if err != nil || g.config != iniPath || g.explicit {
		t.Errorf("no -c: config %q explicit %t (%v), want %s", g.config, g.explicit, err, iniPath)
	}
	g, _, _, _ = parseGlobals([]string{"-c", "/other.yaml", "true"})
	if g.config != "/other.yaml" {
		t.Errorf("-c /other.yaml: config %q", g.config)
	}
	if err := os.WriteFile(yamlPath, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if g, _, _, _ = parseGlobals([]string{"true"}); g.config != yamlPath {
		t.Errorf("both files: config %q, want %s", g.config, yamlPath)
	}
}
