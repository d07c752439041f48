package sshtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// UserComment is the GECOS field of every user the harness creates, so that
// users left behind by a killed test run can be found:
// `getent passwd | grep sshtest`.
const UserComment = "sshtest temporary user"

// User is a throwaway local account with a key that logs in to a Server.
type User struct {
	Name      string
	UID, GID  int
	Home      string
	Shell     string
	KeyPath   string // private key, owned by root, used by the client commands
	PublicKey string // the key as one authorized_keys line, without options
	// AuthorizedKeysPath is ~/.ssh/authorized_keys, which holds PublicKey.
	AuthorizedKeysPath string
}

// accountsMu serialises this process's useradd and userdel runs: both lock
// /etc/passwd and give up at once when it is taken.
var accountsMu sync.Mutex

// AddUser creates a local user with bash as shell, a non-locked but unusable
// password ("*"), and a new key in ~/.ssh/authorized_keys. The login name is
// "lgt", a random part and up to 6 characters of label, at most 16 in all.
// The user, its home and its processes are removed when the test ends.
func (s *Server) AddUser(t testing.TB, label string) *User {
	t.Helper()
	return NewUser(t, s.Dir, label)
}

// NewUser creates the same account as AddUser without a server, for tests
// that run programs as the user directly; the private key goes in keyDir.
func NewUser(t testing.TB, keyDir, label string) *User {
	t.Helper()
	name := addAccount(t, label)
	t.Cleanup(func() { removeAccount(t, name) })

	pw, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("sshtest: looking up new user: %v", err)
	}
	u := &User{Name: name, Home: pw.HomeDir, Shell: "/bin/bash"}
	if u.UID, err = strconv.Atoi(pw.Uid); err != nil {
		t.Fatalf("sshtest: uid %q: %v", pw.Uid, err)
	}
	if u.GID, err = strconv.Atoi(pw.Gid); err != nil {
		t.Fatalf("sshtest: gid %q: %v", pw.Gid, err)
	}

	u.KeyPath = filepath.Join(keyDir, name+"_ed25519")
	keygen(t, u.KeyPath, name+"@sshtest")
	pub, err := os.ReadFile(u.KeyPath + ".pub")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	u.PublicKey = strings.TrimSpace(string(pub))

	sshDir := filepath.Join(u.Home, ".ssh")
	if err := os.Mkdir(sshDir, 0o700); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if err := os.Chown(sshDir, u.UID, u.GID); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	u.AuthorizedKeysPath = filepath.Join(sshDir, "authorized_keys")
	u.WriteAuthorizedKeys(t, u.PublicKey)
	return u
}

// WriteAuthorizedKeys replaces the user's authorized_keys with lines, owned
// by the user, mode 0600; for example to add key options:
// u.WriteAuthorizedKeys(t, `restrict,command="true" `+u.PublicKey).
func (u *User) WriteAuthorizedKeys(t testing.TB, lines ...string) {
	t.Helper()
	data := strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(u.AuthorizedKeysPath, []byte(data), 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if err := os.Chown(u.AuthorizedKeysPath, u.UID, u.GID); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
}

// Command returns a command that runs as the user, in the home directory,
// with a minimal login environment (HOME, USER, LOGNAME, SHELL, PATH).
func (u *User) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = u.Home
	cmd.Env = []string{
		"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name, "SHELL=" + u.Shell,
		"PATH=/usr/local/bin:/usr/bin:/bin",
	}
	// Groups: an empty list drops root's supplementary groups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
		Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{},
	}}
	return cmd
}

// addAccount runs useradd until it succeeds with a fresh name.
func addAccount(t testing.TB, label string) string {
	t.Helper()
	for range 5 {
		name := loginName(label)
		// -p '*': no password works, but the account is not locked ('!'
		// would lock it for sshd when PAM is off).
		out, code := accountTool(t, "useradd", "-m", "-s", "/bin/bash", "-p", "*", "-c", UserComment, name)
		switch code {
		case 0:
			return name
		case 9: // name taken
			continue
		}
		t.Fatalf("sshtest: useradd %s: exit %d\n%s", name, code, out)
	}
	t.Fatalf("sshtest: useradd: no free name")
	return ""
}

// removeAccount kills what still runs as the user, then removes the user,
// its group and its home.
func removeAccount(t testing.TB, name string) {
	t.Helper()
	pw, err := user.Lookup(name)
	if err != nil {
		t.Errorf("sshtest: user %s vanished before cleanup: %v", name, err)
		return
	}
	uid, _ := strconv.Atoi(pw.Uid)
	if !killUser(uid) {
		t.Errorf("sshtest: processes of %s survive SIGKILL", name)
	}
	if out, code := accountTool(t, "userdel", "-r", name); code != 0 {
		t.Errorf("sshtest: userdel -r %s: exit %d\n%s", name, code, out)
	}
}

// killUser SIGKILLs every process running as uid (real or effective) until
// none is left, and reports whether that happened within a few seconds.
func killUser(uid int) bool {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n := signalMatching(syscall.SIGKILL, func(_, ruid, euid int) bool {
			return ruid == uid || euid == uid
		})
		if n == 0 {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// accountTool runs useradd or userdel, waiting while another process holds
// the lock on /etc/passwd (go test runs packages in parallel processes).
func accountTool(t testing.TB, tool string, args ...string) (string, int) {
	t.Helper()
	accountsMu.Lock()
	defer accountsMu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := exec.Command(tool, args...).CombinedOutput()
		code := 0
		if err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatalf("sshtest: %s: %v", tool, err)
			}
			code = ee.ExitCode()
		}
		if code == 0 || !strings.Contains(string(out), "cannot lock") || time.Now().After(deadline) {
			return string(out), code
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loginName returns "lgt" + 6 random hex digits + "-" + up to 6 characters
// of label made safe for a login name.
func loginName(label string) string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("sshtest: crypto/rand: %v", err))
	}
	name := "lgt" + hex.EncodeToString(b[:])
	var l strings.Builder
	for _, r := range strings.ToLower(label) {
		if l.Len() == 6 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			l.WriteRune(r)
		}
	}
	if l.Len() > 0 {
		name += "-" + l.String()
	}
	return name
}
