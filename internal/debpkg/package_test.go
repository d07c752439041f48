package debpkg

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/enrolltest"
	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// Paths the package installs or creates.
const (
	binPath    = "/usr/bin/logingate"
	confPath   = "/etc/logingate/logingate.yaml"
	stateDir   = "/var/lib/logingate"
	dropinSrc  = "/usr/share/logingate/00-logingate.conf"
	dropinPath = "/etc/ssh/sshd_config.d/00-logingate.conf"
)

// aptInstall installs a package file with apt, resolving its dependencies
// from what is installed (apt-get install updates no list; a missing
// dependency would need the network, which fails here), with no prompt.
func (r *root) aptInstall(t *testing.T, deb string, env ...string) string {
	t.Helper()
	in := "/tmp/" + filepath.Base(deb)
	r.copyIn(t, deb, in)
	out, code := r.try(t, env, "apt-get", "install", "-y", "-o", "Dpkg::Use-Pty=0",
		"-o", "APT::Sandbox::User=root", "-o", "Dpkg::Options::=--force-confold", in)
	if code != 0 {
		t.Fatalf("apt-get install %s exited %d:\n%s", in, code, out)
	}
	return out
}

// snapshot describes the package's effect on the root: the group, owners
// and modes, the override, the conffile's digest and the sshd drop-ins.
func (r *root) snapshot(t *testing.T) string {
	return r.sh(t, `getent group logingate
stat -c '%n %U:%G %a %F' `+binPath+` `+stateDir+` /etc/logingate `+confPath+`
dpkg-statoverride --list
md5sum `+confPath+`
ls -A /etc/ssh/sshd_config.d/`)
}

// stateSnapshot lists every file below the state directory with owner,
// mode and digest.
func (r *root) stateSnapshot(t *testing.T) string {
	return r.sh(t, `cd `+stateDir+` && find . -printf '%p %u:%g %m %y\n' | sort && find . -type f -print0 | sort -z | xargs -0 -r md5sum`)
}

// user is an account in the root that logs in with a key made on the host.
type user struct {
	name, key string
	secret    string   // TOTP secret
	backup    []string // backup codes not yet used
}

func (r *root) addUser(t *testing.T, name string) *user {
	t.Helper()
	r.sh(t, "useradd -m -s /bin/bash "+name+" && usermod -p '*' "+name+" && install -d -o "+name+" -g "+name+" -m 0700 /home/"+name+"/.ssh")
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	ak := "/home/" + name + "/.ssh/authorized_keys"
	r.writeFile(t, ak, pub, 0o600)
	r.run(t, "chown", name+":"+name, ak)
	return &user{name: name, key: key}
}

// enroll provisions u's factors as root with the given logingate binary.
func (r *root) enroll(t *testing.T, bin string, u *user) {
	t.Helper()
	out := r.run(t, bin, "enroll", "--user", u.name, "--no-verify", "--json")
	e := enrolltest.Parse(t, []byte(out))
	if len(e.Codes) < 3 {
		t.Fatalf("enroll --json gave too few codes: %s", out)
	}
	u.secret, u.backup = e.Secret, e.Codes
}

// totp is u's current code, computed by oathtool, independently of logingate.
func (u *user) totp(t *testing.T) string {
	t.Helper()
	b, err := exec.Command("oathtool", "--totp", "-b", u.secret).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// backupCode returns one of u's unused backup codes.
func (u *user) backupCode() string {
	c := u.backup[0]
	u.backup = u.backup[1:]
	return c
}

func (s *sshd) ssh(u *user, args ...string) *exec.Cmd {
	argv := []string{"-p", strconv.Itoa(s.port), "-F", "/dev/null", "-i", u.key, "-o", "IdentitiesOnly=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
		"-o", "LogLevel=ERROR", u.name + "@127.0.0.1"}
	return exec.Command("ssh", append(argv, args...)...)
}

// login logs u in at a terminal, answers the gate's prompt with code, and
// returns what the session printed for `id -Gn`.
func (s *sshd) login(t *testing.T, u *user, code string) string {
	t.Helper()
	cmd := s.ssh(u, "-tt", "echo LOGIN-OK; id -Gn; echo END")
	cmd.Env = append(os.Environ(), "TERM=dumb")
	p := sshtest.StartPty(t, cmd)
	p.Expect(t, "Passcode or option", 20*time.Second)
	p.Send(code + "\r")
	p.Expect(t, "LOGIN-OK", 20*time.Second)
	groups := p.Expect(t, "END", 10*time.Second)
	if c := p.Wait(); c != 0 {
		t.Fatalf("login of %s exited %d:\n%s", u.name, c, p.Output())
	}
	return groups
}

// headless runs a command as u without a terminal and returns its output
// and exit code.
func (s *sshd) headless(t *testing.T, u *user) (string, int) {
	t.Helper()
	cmd := s.ssh(u, "echo HEADLESS-OK")
	b, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return string(b), cmd.ProcessState.ExitCode()
}

// step runs one stage of a scenario; the scenario stops at the first
// stage that fails, since every later one builds on it.
func step(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, f) {
		t.FailNow()
	}
}

// TestPackage builds the package twice (a version and a newer one) and
// takes it through what an operator does, each scenario in a throwaway
// root (see root): install, enroll, log in, upgrade, remove and purge;
// and installing over an unprivileged per-user layout.
func TestPackage(t *testing.T) {
	requireTools(t)
	out := t.TempDir()
	old := buildDeb(t, out, "")
	oldVersion := debField(t, old, "Version")
	newVersion := oldVersion + "+upgrade1"
	newer := buildDeb(t, out, newVersion)
	if !dpkgLess(t, oldVersion, newVersion) {
		t.Fatalf("%s does not sort before %s", oldVersion, newVersion)
	}

	t.Run("contents", func(t *testing.T) {
		checkLintian(t, old)
		listing, err := exec.Command("dpkg-deb", "-c", old).Output()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("dpkg-deb -c:\n%s", listing)
		for _, want := range []string{
			"-rwxr-xr-x root/root .* ./usr/bin/logingate",
			"-rw-r--r-- root/root .* ./usr/share/man/man1/logingate.1.gz",
			"-rw-r--r-- root/root .* ./etc/logingate/logingate.yaml",
			"-rw-r--r-- root/root .* ./usr/share/logingate/00-logingate.conf",
			"-rw-r--r-- root/root .* ./usr/share/doc/logingate/copyright",
			"-rw-r--r-- root/root .* ./usr/share/doc/logingate/changelog.gz",
		} {
			if !matchLine(string(listing), want) {
				t.Errorf("package has no line matching %q", want)
			}
		}
		if strings.Contains(string(listing), "sshd_config.d") || strings.Contains(string(listing), "/var/lib") {
			t.Errorf("the package ships something sshd reads or state:\n%s", listing)
		}
		if d := debField(t, old, "Depends"); d != "adduser" {
			t.Errorf("Depends: %q, want adduser alone (getent is Essential)", d)
		}
		// Static: no dynamic loader, so no C library and no NSS module
		// is ever loaded into the setgid gate.
		bin, err := exec.Command("sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -xO ./usr/bin/logingate`, "sh", old).Output()
		if err != nil {
			t.Fatal(err)
		}
		exe, err := elf.NewFile(bytes.NewReader(bin))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range exe.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("the packaged binary has a %v program header: it is not static", p.Type)
			}
		}
		if c := debField(t, old, "Conffiles"); c != "" {
			t.Logf("Conffiles field: %s", c)
		}
	})

	t.Run("lifecycle", func(t *testing.T) { lifecycle(t, old, newer, newVersion) })
	t.Run("migrate", func(t *testing.T) { migrateLayout(t, old) })
}

func matchLine(text, pattern string) bool {
	re := regexp.MustCompile(pattern)
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}
