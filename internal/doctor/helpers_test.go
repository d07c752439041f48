package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/testutil/need"
)

// requireRoot: the ownership checks need root-owned files, and sshd -T of
// other users' Match Group membership is what root sees.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		need.Unavailable(t, "this test needs root")
	}
}

// requireTool returns the path of a program the test needs.
func requireTool(t *testing.T, name string, fallbacks ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range fallbacks {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	need.Unavailable(t, "%s is not installed (openssh-server)", name)
	return ""
}

// debianSSHDConfig is Debian's stock sshd_config.
func debianSSHDConfig(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/share/openssh/sshd_config", "/etc/ssh/sshd_config"} {
		if b, err := os.ReadFile(p); err == nil {
			return string(b)
		}
	}
	need.Unavailable(t, "no stock sshd_config to start from")
	return ""
}

// shippedDropin is etc/sshd_config.d/00-logingate.conf as shipped.
func shippedDropin(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../etc/sshd_config.d/00-logingate.conf")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testHost is a whole host in a temporary directory: an sshd config with
// its own host key and drop-in directory, a PAM service, a logingate
// binary, config and state directory, all root-owned with safe modes.
type testHost struct {
	dir      string
	sshd     string
	config   string // sshd_config
	dropins  string // sshd_config.d
	pam      string // pam.d/sshd
	binary   string
	lgConfig string // logingate.yaml
	state    string
}

// hostSpec says how a testHost differs from Debian's defaults.
type hostSpec struct {
	dropins map[string]string // file name in sshd_config.d -> content
	tail    string            // appended to sshd_config (Match blocks)
	pam     string            // pam.d/sshd; Debian's when empty
	hostKey string            // HostKey line's path; a fresh key when empty
}

const installedGate = "/usr/bin/logingate"

var debianInclude = regexp.MustCompile(`(?m)^Include[ \t]+\S*sshd_config\.d/\*\.conf[ \t]*$`)

func newTestHost(t *testing.T, spec hostSpec) *testHost {
	t.Helper()
	requireRoot(t)
	h := &testHost{dir: t.TempDir()}
	h.sshd = requireTool(t, "sshd", "/usr/sbin/sshd")
	keygen := requireTool(t, "ssh-keygen", "/usr/bin/ssh-keygen")
	// sshd -T refuses to print anything without its privilege separation
	// directory; Debian creates it only when the service starts, which it
	// never does on a test machine.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	h.dropins = filepath.Join(h.dir, "sshd_config.d")
	h.config = filepath.Join(h.dir, "sshd_config")
	mkdir(t, h.dropins, 0o755)

	key := spec.hostKey
	if key == "" {
		key = filepath.Join(h.dir, "ssh_host_ed25519_key")
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	base := debianSSHDConfig(t)
	inc := "Include " + h.dropins + "/*.conf"
	if debianInclude.MatchString(base) {
		base = debianInclude.ReplaceAllLiteralString(base, inc)
	} else {
		base = inc + "\n" + base
	}
	h.binary = filepath.Join(h.dir, "bin", "logingate")
	// The shipped ForceCommand names the installed path; use the test's.
	gate := strings.NewReplacer(installedGate, h.binary)
	writeFile(t, h.config, base+"\nHostKey "+key+"\n"+gate.Replace(spec.tail), 0o644)
	for name, content := range spec.dropins {
		writeFile(t, filepath.Join(h.dropins, name), gate.Replace(content), 0o644)
	}

	pamDir := filepath.Join(h.dir, "pam.d")
	mkdir(t, pamDir, 0o755)
	for _, f := range []string{"common-auth", "common-account", "common-session", "common-password"} {
		writeFile(t, filepath.Join(pamDir, f), readTestdata(t, "pam.d/"+f), 0o644)
	}
	h.pam = filepath.Join(pamDir, "sshd")
	pam := spec.pam
	if pam == "" {
		pam = debianPAM(t)
	}
	writeFile(t, h.pam, pam, 0o644)

	mkdir(t, filepath.Join(h.dir, "bin"), 0o755)
	writeFile(t, h.binary, "#!/bin/sh\nexit 1\n", 0o755)
	// Installed privileged, as make install does: the binary setgid to a
	// group, the state directory root:GROUP 0770.
	chgrp(t, h.binary, testGateGID)
	chmod(t, h.binary, 0o755|os.ModeSetgid)
	h.state = filepath.Join(h.dir, "state")
	mkdir(t, h.state, 0o770)
	chgrp(t, h.state, testGateGID)
	mkdir(t, filepath.Join(h.dir, "etc"), 0o755)
	h.lgConfig = filepath.Join(h.dir, "etc", "logingate.yaml")
	writeFile(t, h.lgConfig, "state_dir: "+h.state+"\n", 0o644)
	return h
}

// hardened is the shipped drop-in; edits are pairs of old and new text.
// (newTestHost points its ForceCommand at the test's binary.)
func hardened(t *testing.T, edits ...string) string {
	t.Helper()
	s := shippedDropin(t)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(s, edits[i]) {
			t.Fatalf("shipped drop-in has no %q", edits[i])
		}
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	return s
}

func debianPAM(t *testing.T) string { return readTestdata(t, "pam.d/sshd") }

// hardenedPAM is Debian's PAM service with user_readenv=1 removed, as the
// README says.
func hardenedPAM(t *testing.T) string {
	s := debianPAM(t)
	if !strings.Contains(s, " user_readenv=1") {
		t.Fatal("testdata pam.d/sshd has no user_readenv=1")
	}
	return strings.ReplaceAll(s, " user_readenv=1", "")
}

// args are the doctor flags for h.
func (h *testHost) args(extra ...string) []string {
	return append([]string{"--sshd", h.sshd, "-f", h.config, "--pam", h.pam, "--binary", h.binary, "--config", h.lgConfig}, extra...)
}

// doctorJSON runs doctor --json on h and decodes its report.
func doctorJSON(t *testing.T, h *testHost, extra ...string) (*report, int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append(h.args(extra...), "--json"), &out, &errb)
	if code == 2 {
		t.Fatalf("doctor exit 2: %s", errb.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("doctor --json printed no report: %v\n%s\nstderr: %s", err, out.String(), errb.String())
	}
	return &rep, code, errb.String()
}

func mkdir(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode&os.ModePerm|sticky(mode)); err != nil {
		t.Fatal(err)
	}
}

// sticky turns the 0o1000 bit of a literal mode into os.ModeSticky.
func sticky(mode os.FileMode) os.FileMode {
	if mode&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// ids returns the finding ids of one severity, or of all when sev is "".
func ids(rep *report, sev severity) []string {
	var out []string
	for _, f := range rep.Findings {
		if sev == "" || f.Severity == sev {
			out = append(out, f.ID)
		}
	}
	return out
}

func find(rep *report, id string) []finding {
	var out []finding
	for _, f := range rep.Findings {
		if f.ID == id {
			out = append(out, f)
		}
	}
	return out
}

// testGateGID stands in for the logingate group.
const testGateGID = 4242

func chgrp(t *testing.T, path string, gid int) {
	t.Helper()
	if err := os.Chown(path, -1, gid); err != nil {
		t.Fatal(err)
	}
}

// parseSSHDConfigData parses one file's bytes, reading no includes.
func parseSSHDConfigData(name string, data []byte) *sshdConfig {
	r := &configReader{sshDir: "/etc/ssh", cfg: &sshdConfig{},
		read: func(string) ([]byte, error) { return nil, errors.New("not read") },
		glob: func(string) ([]string, error) { return nil, nil }}
	r.parse(name, data, nil, 0)
	return r.cfg
}
