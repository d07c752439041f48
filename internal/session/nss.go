//go:build cgo

package session

// Users and groups come from the C library's NSS functions, so that every
// source in /etc/nsswitch.conf counts (files, LDAP, SSSD, extrausers,
// systemd). Pure-Go os/user reads only /etc/passwd and /etc/group and has no
// shell field, which is why logingate is a cgo build.

/*
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

// The wrappers keep the C library's result pointers on the C side: Go passes
// only the struct to fill and a C buffer, and learns found/not found.
static int lg_getpwnam(const char *name, struct passwd *pwd, char *buf, size_t len, int *found) {
	struct passwd *res = NULL;
	int rc = getpwnam_r(name, pwd, buf, len, &res);
	*found = res != NULL;
	return rc;
}

static int lg_getpwuid(uid_t uid, struct passwd *pwd, char *buf, size_t len, int *found) {
	struct passwd *res = NULL;
	int rc = getpwuid_r(uid, pwd, buf, len, &res);
	*found = res != NULL;
	return rc;
}

static int lg_getgrgid(gid_t gid, struct group *grp, char *buf, size_t len, int *found) {
	struct group *res = NULL;
	int rc = getgrgid_r(gid, grp, buf, len, &res);
	*found = res != NULL;
	return rc;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"syscall"
	"unsafe"
)

const (
	// maxBuf bounds the buffer handed to getpw*_r / getgr*_r; it doubles on
	// ERANGE up to this size (a group with many members needs a lot).
	maxBuf = 1 << 22
	// maxGroups bounds getgrouplist (Linux NGROUPS_MAX).
	maxGroups = 65536
)

// LookupUser resolves a user by name: from /etc/passwd when the files are
// the whole answer (files.go), otherwise through NSS. An unknown user is
// errUnknownUser; any other error means NSS could not answer.
func LookupUser(name string) (*User, error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return nil, fmt.Errorf("user %q: %w", name, errUnknownUser)
	}
	if u, ok := localFiles.lookupUser(name); ok {
		return u, nil
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	u, err := lookupPasswd(func(pwd *C.struct_passwd, buf *C.char, n C.size_t, found *C.int) C.int {
		return C.lg_getpwnam(cname, pwd, buf, n, found)
	})
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
	u, err := lookupPasswd(func(pwd *C.struct_passwd, buf *C.char, n C.size_t, found *C.int) C.int {
		return C.lg_getpwuid(C.uid_t(uid), pwd, buf, n, found)
	})
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
	if u == nil || u.Name == "" || strings.IndexByte(u.Name, 0) >= 0 {
		return nil, errors.New("groups: no user name")
	}
	if u.GID < 0 || u.GID >= math.MaxUint32 {
		return nil, fmt.Errorf("groups of %q: %w: id %d", u.Name, errUnknownGroup, u.GID)
	}
	if names, ok := localFiles.groups(u); ok {
		return names, nil
	}
	gids, err := groupList(u.Name, C.gid_t(u.GID))
	if err != nil {
		return nil, fmt.Errorf("groups of %q: %w", u.Name, err)
	}
	names := make([]string, 0, len(gids))
	seen := make(map[C.gid_t]bool, len(gids))
	// Primary group first, whatever order the C library used.
	for _, gid := range append([]C.gid_t{C.gid_t(u.GID)}, gids...) {
		if seen[gid] {
			continue
		}
		seen[gid] = true
		name, err := groupName(gid)
		if err != nil {
			return nil, fmt.Errorf("groups of %q: %w", u.Name, err)
		}
		names = append(names, name)
	}
	return names, nil
}

// lookupPasswd runs one getpw*_r call, growing the buffer on ERANGE.
func lookupPasswd(call func(*C.struct_passwd, *C.char, C.size_t, *C.int) C.int) (*User, error) {
	var pwd C.struct_passwd
	var found C.int
	buf, err := retryERANGE(initialSize(C._SC_GETPW_R_SIZE_MAX), func(buf *C.char, n C.size_t) C.int {
		return call(&pwd, buf, n, &found)
	})
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(buf))
	if found == 0 {
		return nil, errUnknownUser
	}
	u := &User{
		Name:  C.GoString(pwd.pw_name),
		UID:   int(pwd.pw_uid),
		GID:   int(pwd.pw_gid),
		Home:  C.GoString(pwd.pw_dir),
		Shell: C.GoString(pwd.pw_shell),
		Gecos: C.GoString(pwd.pw_gecos),
	}
	if u.Shell == "" {
		u.Shell = defaultShell
	}
	return u, nil
}

// groupName resolves one group id with getgrgid_r.
func groupName(gid C.gid_t) (string, error) {
	var grp C.struct_group
	var found C.int
	buf, err := retryERANGE(initialSize(C._SC_GETGR_R_SIZE_MAX), func(buf *C.char, n C.size_t) C.int {
		return C.lg_getgrgid(gid, &grp, buf, n, &found)
	})
	if err != nil {
		return "", fmt.Errorf("group id %d: %w", gid, err)
	}
	defer C.free(unsafe.Pointer(buf))
	if found == 0 {
		return "", fmt.Errorf("%w: id %d", errUnknownGroup, gid)
	}
	name := C.GoString(grp.gr_name)
	if name == "" {
		return "", fmt.Errorf("%w: id %d has an empty name", errUnknownGroup, gid)
	}
	return name, nil
}

// groupList calls getgrouplist, growing the array while it reports -1.
func groupList(name string, primary C.gid_t) ([]C.gid_t, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	n := C.int(64)
	for {
		arr := (*C.gid_t)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(C.gid_t(0)))))
		if arr == nil {
			return nil, errors.New("getgrouplist: out of memory")
		}
		got := n
		rc := C.getgrouplist(cname, primary, arr, &got)
		if rc >= 0 {
			gids := append([]C.gid_t(nil), unsafe.Slice(arr, int(got))...)
			C.free(unsafe.Pointer(arr))
			return gids, nil
		}
		C.free(unsafe.Pointer(arr))
		// glibc sets got to the size it needs; others may not.
		if got <= n {
			got = n * 2
		}
		if got > maxGroups {
			return nil, fmt.Errorf("getgrouplist: more than %d groups", maxGroups)
		}
		n = got
	}
}

// retryERANGE calls f with a C buffer, doubling it while f returns ERANGE. On
// success the caller owns (and frees) the buffer.
func retryERANGE(size C.size_t, f func(*C.char, C.size_t) C.int) (*C.char, error) {
	for {
		buf := (*C.char)(C.malloc(size))
		if buf == nil {
			return nil, errors.New("nss: out of memory")
		}
		rc := f(buf, size)
		if rc == 0 {
			return buf, nil
		}
		C.free(unsafe.Pointer(buf))
		if syscall.Errno(rc) != syscall.ERANGE {
			return nil, fmt.Errorf("nss: %w", syscall.Errno(rc))
		}
		if size >= maxBuf {
			return nil, fmt.Errorf("nss: entry larger than %d bytes", maxBuf)
		}
		size *= 2
	}
}

// initialSize is the C library's suggested buffer size, within bounds.
func initialSize(key C.int) C.size_t {
	n := C.sysconf(key)
	if n <= 0 || n > maxBuf {
		return 1024
	}
	return C.size_t(n)
}
