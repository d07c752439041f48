package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/logingate/logingate/internal/testutil/need"
)

// secureDir makes a 0700 directory for a config.
func secureDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "etc")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func putFile(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("prompts: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	chmod(t, path, mode)
}

// chmod sets the mode exactly, whatever the umask.
func chmod(t testing.TB, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// wantRefused loads path and wants an error starting with the path and
// containing each of parts.
func wantRefused(t *testing.T, path string, parts ...string) {
	t.Helper()
	cfg, err := Load(path, testHost)
	if err == nil {
		t.Fatalf("Load(%s) accepted it: %+v", path, cfg)
	}
	if !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("error does not start with the path: %v", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestPermissionsAccepted(t *testing.T) {
	d := secureDir(t)
	path := filepath.Join(d, "logingate.yaml")
	putFile(t, path, 0o644)
	if _, err := Load(path, testHost); err != nil {
		t.Fatalf("a 0644 file in a 0700 directory: %v", err)
	}

	// Ancestors writable by others are fine with the sticky bit (/tmp).
	sticky := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(sticky, 0o700); err != nil {
		t.Fatal(err)
	}
	chmod(t, sticky, 0o777|os.ModeSticky)
	inner := filepath.Join(sticky, "etc")
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	putFile(t, filepath.Join(inner, "c.yaml"), 0o600)
	if _, err := Load(filepath.Join(inner, "c.yaml"), testHost); err != nil {
		t.Fatalf("a sticky ancestor: %v", err)
	}

	// A relative path and a symbolic link in a safe directory.
	t.Chdir(d)
	if _, err := Load("logingate.yaml", testHost); err != nil {
		t.Errorf("relative path: %v", err)
	}
	if err := os.Symlink(path, filepath.Join(d, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(filepath.Join(d, "link.yaml"), testHost); err != nil {
		t.Errorf("symbolic link: %v", err)
	}
}

func TestGroupWritableFileRefused(t *testing.T) {
	for _, mode := range []os.FileMode{0o620, 0o602, 0o666} {
		path := filepath.Join(secureDir(t), "logingate.yaml")
		putFile(t, path, mode)
		wantRefused(t, path, "writable by group or others", "chmod go-w "+path)
	}
}

func TestGroupWritableDirectoryRefused(t *testing.T) {
	d := secureDir(t)
	path := filepath.Join(d, "logingate.yaml")
	putFile(t, path, 0o600)
	chmod(t, d, 0o770)
	wantRefused(t, path, "directory "+d, "writable by group or others", "chmod go-w "+d)

	// The holding directory gets no sticky exemption.
	chmod(t, d, 0o777|os.ModeSticky)
	wantRefused(t, path, "directory "+d, "(mode 1777)", "chmod go-w "+d)
}

func TestGroupWritableAncestorRefused(t *testing.T) {
	top := filepath.Join(t.TempDir(), "top")
	mid := filepath.Join(top, "etc")
	if err := os.MkdirAll(mid, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(mid, "logingate.yaml")
	putFile(t, path, 0o600)
	chmod(t, top, 0o775)
	wantRefused(t, path, "directory "+top+" is writable", "chmod go-w "+top)
}

func TestSymlinkThroughUnsafeDirectoryRefused(t *testing.T) {
	// The file is safe, but the link to it sits where others may swap it.
	path := filepath.Join(secureDir(t), "real.yaml")
	putFile(t, path, 0o600)
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(open, "logingate.yaml")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	chmod(t, open, 0o777)
	wantRefused(t, link, "directory "+open, "chmod go-w "+open)

	// And a link to an unsafe file names the real file in the fix.
	chmod(t, open, 0o700)
	chmod(t, path, 0o666)
	wantRefused(t, link, "chmod go-w "+path)
}

func TestOwnedByAnotherUserRefused(t *testing.T) {
	need.Root(t)
	const nobody = 65534

	path := filepath.Join(secureDir(t), "logingate.yaml")
	putFile(t, path, 0o600)
	if err := os.Chown(path, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, path, "owned by uid 65534", "chown root:root "+path)

	d := secureDir(t)
	path = filepath.Join(d, "logingate.yaml")
	putFile(t, path, 0o600)
	if err := os.Chown(d, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, path, "directory "+d, "owned by uid 65534", "chown root:root "+d)
}

func TestNotARegularFileRefused(t *testing.T) {
	d := secureDir(t)
	fifo := filepath.Join(d, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Must not block waiting for a writer.
	wantRefused(t, fifo, "not a regular file")
	wantRefused(t, d, "is a directory")
	wantRefused(t, "/", "is a directory")
	wantRefused(t, "/dev/null", "not a regular file")
}

func TestMissingAndOversizedFiles(t *testing.T) {
	d := secureDir(t)
	wantRefused(t, filepath.Join(d, "none.yaml"), "no such file or directory")
	wantRefused(t, filepath.Join(d, "none", "c.yaml"), "no such file or directory")

	big := filepath.Join(d, "big.yaml")
	data := strings.Repeat("# padding\n", maxSize/10+1)
	if err := os.WriteFile(big, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, big, "larger than 1024 KiB")

	notDir := filepath.Join(d, "file")
	putFile(t, notDir, 0o600)
	wantRefused(t, filepath.Join(notDir, "c.yaml"), "not a directory")
}

func TestSymlinkLoopRefused(t *testing.T) {
	d := secureDir(t)
	a, b := filepath.Join(d, "a"), filepath.Join(d, "b")
	if err := os.Symlink(b, a); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(a, b); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, a, "too many levels of symbolic links")
}

// A host whose config names its secret files through links that config
// management made (relative or absolute, in root's directories) keeps
// working: root's paths follow links whose targets pass the same checks.
// A link into /proc, or to a file in a directory others can write, does
// not.
func TestSecretFilesThroughConfigManagementLinks(t *testing.T) {
	etc := secureDir(t)
	chmod(t, etc, 0o755)
	cm := filepath.Join(etc, "cm", "secrets")
	if err := os.MkdirAll(cm, 0o755); err != nil {
		t.Fatal(err)
	}
	skey := writeFile(t, cm, "duo.skey", testSKey+"\n", 0o640)
	writeFile(t, cm, "radius.secret", "s3cret\n", 0o640)
	ca := writeFile(t, cm, "ca.pem", testPEM, 0o644)
	link := func(target, name string) string {
		p := filepath.Join(etc, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	conf := func(skeyFile, caFile string) string {
		return "duo: {host: api-3ff1e4c7.duosecurity.com, ikey: " + testIKey + ", skey_file: " + skeyFile + ", cafile: " + caFile + "}\n" +
			"radius: {servers: [{address: \"127.0.0.1:1812\", secret_file: " + link("cm/secrets/radius.secret", "radius.secret") + "}]}\n"
	}
	cfg, err := Load(writeConfig(t, conf(link("cm/secrets/duo.skey", "duo.skey"), link(ca, "ca.pem"))), testHost)
	if err != nil {
		t.Fatalf("secret files through links: %v", err)
	}
	if cfg.Duo.SKey != testSKey || string(cfg.Radius.Servers[0].Secret) != "s3cret" || string(cfg.Duo.CAPEM) != testPEM {
		t.Fatalf("not read through the links: %+v", cfg)
	}

	f, err := os.Open(skey)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, target := range []string{"/proc/self/fd/" + strconv.Itoa(int(f.Fd())), "/dev/fd/" + strconv.Itoa(int(f.Fd())), "/proc/self/root" + skey} {
		os.Remove(filepath.Join(etc, "magic.skey"))
		os.Remove(filepath.Join(etc, "radius.secret"))
		path := writeConfig(t, conf(link(target, "magic.skey"), ca))
		wantRefused(t, path, "duo.skey_file", "is on /proc")
	}

	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	loose := writeFile(t, open, "duo.skey", testSKey+"\n", 0o640)
	chmod(t, open, 0o777)
	os.Remove(filepath.Join(etc, "radius.secret"))
	wantRefused(t, writeConfig(t, conf(link(loose, "loose.skey"), ca)), "duo.skey_file", "directory "+open+" is writable by group or others")
}
