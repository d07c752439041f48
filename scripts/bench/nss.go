package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// extraDir is where libnss-extrausers reads its passwd and group files.
const extraDir = "/var/lib/extrausers"

// nssBench is the rows of a user known only through NSS: libnss-extrausers
// here, which the C library serves as it serves LDAP or SSSD. Each run goes
// through the launcher in a private mount namespace, where a prepared
// nsswitch.conf (`passwd: files extrausers`, `group: files extrausers`) is
// bound over /etc/nsswitch.conf and a directory with the user's passwd and
// group files over /var/lib/extrausers (groups then come through getent), and
// the machine's own files, and every other row, see nothing of it. The
// mounts are made before the clock starts.
type nssBench struct {
	name, home string
	ids        string // the launcher's -u: UID:GID,GID of the user and its groups
	owner      owner
	mounts     []string // the launcher's -m options
	state      string
	pristine   []byte
	en         *enrollment
	made       bool // extraDir was made for the run, to bind over; removed after
}

// nssUser is the user's name; its group is the same, and it is a member of
// nssGroup, a group of the directory too.
const nssUser, nssGroup = "lgbench", "lgbench-dir"

// nssRows writes the user's files, enrolls it as root (through NSS, in
// the same namespace) and keeps its fresh state, or says why it cannot.
func nssRows(dir string, gs *gateSet, r *runner, shell, shellRun string) (peer, error) {
	if m, _ := filepath.Glob("/usr/lib*/libnss_extrausers.so.2"); len(m) == 0 {
		if m, _ = filepath.Glob("/usr/lib/*/libnss_extrausers.so.2"); len(m) == 0 {
			return peer{why: "the NSS rows: libnss-extrausers is not installed"}, nil
		}
	}
	_, e1 := user.Lookup(nssUser)
	_, e2 := user.LookupGroup(nssUser)
	_, e3 := user.LookupGroup(nssGroup)
	if e1 == nil || e2 == nil || e3 == nil {
		return peer{}, fmt.Errorf("NSS rows: this machine has a user or group %s or %s", nssUser, nssGroup)
	}
	// A uid and two gids no NSS source of the machine knows.
	id, unknown := 61000, func(err error) bool {
		var u user.UnknownUserIdError
		var g user.UnknownGroupIdError
		return errors.As(err, &u) || errors.As(err, &g)
	}
	for ; id < 62000; id += 2 {
		_, e1 = user.LookupId(strconv.Itoa(id))
		_, e2 = user.LookupGroupId(strconv.Itoa(id))
		_, e3 = user.LookupGroupId(strconv.Itoa(id + 1))
		if unknown(e1) && unknown(e2) && unknown(e3) {
			break
		}
	}
	if id >= 62000 {
		return peer{}, errors.New("NSS rows: no free uid in 61000-62000")
	}
	top := filepath.Join(dir, "nss")
	b := &nssBench{name: nssUser, home: filepath.Join(top, "home"), ids: fmt.Sprintf("%d:%d,%d", id, id, id+1),
		state: filepath.Join(gs.g.state, nssUser, "state.json")}
	conf, err := os.ReadFile("/etc/nsswitch.conf")
	if err != nil {
		return peer{}, err
	}
	var lines []string
	for _, l := range strings.Split(string(conf), "\n") {
		if db, _, _ := strings.Cut(l, ":"); !slices.Contains([]string{"passwd", "group", "initgroups"}, strings.TrimSpace(db)) {
			lines = append(lines, l)
		}
	}
	files := map[string]string{
		"nsswitch.conf":     strings.Join(append(lines, "passwd: files extrausers", "group: files extrausers", ""), "\n"),
		"extrausers/passwd": fmt.Sprintf("%s:x:%d:%d::%s:%s\n", nssUser, id, id, b.home, shell),
		"extrausers/group":  fmt.Sprintf("%s:x:%d:\n%s:x:%d:%s\n", nssUser, id, nssGroup, id+1, nssUser),
	}
	err = os.MkdirAll(filepath.Join(top, "extrausers"), 0o755)
	for name, body := range files {
		if err == nil {
			err = os.WriteFile(filepath.Join(top, name), []byte(body), 0o644)
		}
	}
	if err == nil {
		err = os.Mkdir(b.home, 0o755)
	}
	if err == nil {
		err = os.Chown(b.home, id, id)
	}
	if err != nil {
		return peer{}, err
	}
	// A bind needs a directory to bind over: one that is missing is made,
	// empty, and removed at the end.
	if _, err := os.Stat(extraDir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(extraDir, 0o755); err != nil {
			return peer{}, err
		}
		b.made = true
	}
	b.mounts = []string{"-m", filepath.Join(top, "nsswitch.conf") + ":/etc/nsswitch.conf", "-m", filepath.Join(top, "extrausers") + ":" + extraDir}

	var out bytes.Buffer
	cmd := exec.Command(gs.bin, enrollArgs(gs.g.config, nssUser)...)
	cmd.Env, cmd.Stdout = baseEnv(), &out
	_, status, stderr, err := r.run(cmd, b.mounts...)
	if err != nil && strings.Contains(err.Error(), "private mount namespace") {
		b.close()
		return peer{why: "the NSS rows: no private mount namespace here"}, nil
	}
	if err == nil && status != 0 {
		err = fmt.Errorf("exit %d: %s", status, stderr)
	}
	var fi os.FileInfo
	if b.en, err = parseEnroll(out.Bytes(), err); err == nil {
		b.pristine, err = os.ReadFile(b.state)
	}
	if err == nil {
		fi, err = os.Stat(b.state)
	}
	if err == nil {
		st := fi.Sys().(*syscall.Stat_t)
		b.owner = owner{int(st.Uid), int(st.Gid)} // as enroll handed it over
	}
	if err != nil {
		b.close()
		return peer{}, fmt.Errorf("NSS rows: %v", err)
	}
	return peer{cases: b.cases(gs, shellRun), close: b.close}, nil
}

func (b *nssBench) close() {
	if b.made {
		if err := os.Remove(extraDir); err != nil {
			say("warning: %v", err)
		}
	}
}

// cases are B′, row B's login for root under the namespace's nsswitch, and
// N, the same login for the NSS user, run as that user (its uid and groups,
// as sshd hands over) with the same binary, config and state directory;
// like B's, the binary is not setgid.
func (b *nssBench) cases(gs *gateSet, shellRun string) []kase {
	a := gs.g.audit
	return []kase{
		a.audited(kase{id: "nss-files", label: "B′: B under `passwd: files extrausers` (a files user on a directory-backed host)", prep: gs.totp, opts: b.mounts}, "root/totp"),
		a.audited(kase{id: "nss-user", label: "N: B for a user only NSS knows (extrausers), as that user, then " + shellRun,
			opts: append(append([]string{}, b.mounts...), "-u", b.ids),
			prep: func() (*exec.Cmd, error) {
				if err := restore(b.state, b.pristine, 0o600, b.owner); err != nil {
					return nil, err
				}
				cmd := exec.Command(gs.bin, "-c", gs.g.config, "/bin/true")
				cmd.Env = env(b.home, "LOGINGATE_PASSCODE="+totpCode(b.en.secret, time.Now(), 6))
				return cmd, nil
			}}, b.name+"/totp"),
	}
}
