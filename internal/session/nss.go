package session

// Users and groups that /etc/passwd and /etc/group do not fully answer
// (LDAP, SSSD, extrausers, systemd's userdb) come from getent, the C
// library's own front end to NSS, so that every source in
// /etc/nsswitch.conf counts. logingate itself is a static binary: no NSS
// module is ever loaded into the setgid gate, and a local user pays for
// no C library at all (files.go). getent runs by absolute path, with an
// empty environment, nothing on stdin, and the caller's own ids: the
// logingate group is not passed on.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logingate/logingate/internal/term"
)

const (
	defaultGetent = "/usr/bin/getent"
	// getentTimeout bounds one lookup: a directory that does not answer
	// denies the login rather than holding it.
	getentTimeout = 30 * time.Second
	// maxGetentOutput bounds what a lookup may print.
	maxGetentOutput = 4 << 20
	// maxGroups bounds a user's groups (Linux NGROUPS_MAX).
	maxGroups = 65536
)

// getentPath is a variable only so that a test can watch what getent gets.
var getentPath = defaultGetent

// LookupUser resolves a user by name: from /etc/passwd when the files are
// the whole answer (files.go), otherwise through NSS. An unknown user is
// errUnknownUser; any other error means NSS could not answer.
func LookupUser(name string) (*User, error) {
	if !validName(name) {
		return nil, fmt.Errorf("user %q: %w", name, errUnknownUser)
	}
	if u, ok := localFiles.lookupUser(name); ok {
		return u, nil
	}
	u, err := getentUser(name)
	if err == nil && u.Name != name { // getent takes a number for an id
		err = errUnknownUser
	}
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// LookupUID resolves a user by numeric id, as LookupUser does. An unknown
// id is errUnknownUser.
func LookupUID(uid int) (*User, error) {
	// uid_t is 32 bits and (uid_t)-1 means "no user".
	if uid < 0 || uid >= math.MaxUint32 {
		return nil, fmt.Errorf("user id %d: %w", uid, errUnknownUser)
	}
	if u, ok := localFiles.lookupUID(uid); ok {
		return u, nil
	}
	u, err := getentUser(strconv.Itoa(uid))
	if err == nil && u.UID != uid {
		err = errUnknownUser
	}
	if err != nil {
		return nil, fmt.Errorf("user id %d: %w", uid, err)
	}
	return u, nil
}

// Groups returns the names of u's primary group and supplementary groups, as
// NSS reports them (getgrouplist), primary first, without duplicates; from
// /etc/group when the files are the whole answer (files.go). A group
// id that has no name is an error wrapping errUnknownGroup: the caller cannot
// tell whether a pattern would have matched it, so it must deny.
//
// getgrouplist skips an NSS source that fails (say, LDAP unreachable) without
// reporting it; that is the C library's behaviour and login_duo's as well.
func Groups(u *User) ([]string, error) {
	if u == nil || !validName(u.Name) {
		return nil, errors.New("groups: no user name")
	}
	if u.GID < 0 || u.GID >= math.MaxUint32 {
		return nil, fmt.Errorf("groups of %q: %w: id %d", u.Name, errUnknownGroup, u.GID)
	}
	if names, ok := localFiles.groups(u); ok {
		return names, nil
	}
	names, err := getentGroups(u)
	if err != nil {
		return nil, fmt.Errorf("groups of %q: %w", u.Name, err)
	}
	return names, nil
}

// validName refuses what getent would read as something else (an option)
// and what no passwd line can hold.
func validName(name string) bool {
	return name != "" && name[0] != '-' && !strings.ContainsAny(name, ":\n\x00")
}

// getentUser looks up one passwd entry by name or id.
func getentUser(key string) (*User, error) {
	out, found, err := getent("passwd", key)
	if err != nil || !found {
		return nil, errOr(err, errUnknownUser)
	}
	line, _, _ := bytes.Cut(out, []byte("\n"))
	f := strings.Split(string(line), ":")
	if len(f) != 7 {
		return nil, errors.New("getent passwd: malformed entry")
	}
	uid, uerr := parseID(f[2])
	gid, gerr := parseID(f[3])
	if uerr != nil || gerr != nil {
		return nil, errors.New("getent passwd: malformed entry")
	}
	u := &User{Name: f[0], UID: uid, GID: gid, Gecos: f[4], Home: f[5], Shell: f[6]}
	if u.Shell == "" {
		u.Shell = defaultShell
	}
	return u, nil
}

// getentGroups names u's primary group and the groups getgrouplist finds.
func getentGroups(u *User) ([]string, error) {
	out, _, err := getent("initgroups", u.Name)
	if err != nil {
		return nil, err
	}
	line, _, _ := bytes.Cut(out, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) == 0 || f[0] != u.Name || len(f) > maxGroups {
		return nil, errors.New("getent initgroups: malformed answer")
	}
	gids := []int{u.GID}
	seen := map[int]bool{u.GID: true}
	for _, s := range f[1:] {
		gid, err := parseID(s)
		if err != nil {
			return nil, errors.New("getent initgroups: malformed answer")
		}
		if !seen[gid] {
			seen[gid] = true
			gids = append(gids, gid)
		}
	}
	keys := make([]string, len(gids))
	for i, gid := range gids {
		keys[i] = strconv.Itoa(gid)
	}
	// Exit status 2 (some key not found) is fine here: which one is
	// found by its missing line.
	out, _, err = getent("group", keys...)
	if err != nil {
		return nil, err
	}
	byID := make(map[int]string, len(gids))
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		f := strings.SplitN(line, ":", 4)
		if len(f) != 4 {
			continue
		}
		if gid, err := parseID(f[2]); err == nil && f[0] != "" && byID[gid] == "" {
			byID[gid] = f[0]
		}
	}
	names := make([]string, len(gids))
	for i, gid := range gids {
		if names[i] = byID[gid]; names[i] == "" {
			return nil, fmt.Errorf("%w: id %d", errUnknownGroup, gid)
		}
	}
	return names, nil
}

// getent runs getent on database with keys. found is false when getent
// says a key is unknown (exit status 2); any other failure is an error.
func getent(database string, keys ...string) (out []byte, found bool, err error) {
	cmd := exec.Command(getentPath, append([]string{database, "--"}, keys...)...)
	cmd.Env = []string{}
	cmd.Dir = "/"
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxGetentOutput, 4096
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// The real ids: a setgid gate's logingate group stays behind
		// (TestGetentRunsWithoutTheGateGroup).
		Credential: &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid()), NoSetGroups: true},
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, false, fmt.Errorf("nss: %w", err)
	}
	timer := time.AfterFunc(getentTimeout, func() { cmd.Process.Kill() })
	err = cmd.Wait()
	timer.Stop()
	var exit *exec.ExitError
	switch {
	case stdout.over || stderr.over:
		return nil, false, errors.New("nss: getent printed too much")
	case errors.As(err, &exit) && exit.ExitCode() == 2:
		return stdout.Bytes(), false, nil
	case err != nil:
		return nil, false, fmt.Errorf("nss: getent %s: %v%s", database, err, firstLine(stderr.Bytes()))
	}
	return stdout.Bytes(), true, nil
}

// parseID reads a uid or gid: decimal, 32 bits, not (id_t)-1.
func parseID(s string) (int, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == math.MaxUint32 {
		return 0, errors.New("not an id")
	}
	return int(n), nil
}

func errOr(err, dflt error) error {
	if err != nil {
		return err
	}
	return dflt
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
	if len(line) == 0 {
		return ""
	}
	return ": " + term.SanitizeLine(string(line), 200)
}

// limitedBuffer keeps up to max bytes and notes whether more came.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		b.over = true
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
