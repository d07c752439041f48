package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/logingate/logingate/internal/audit"
	"github.com/logingate/logingate/internal/privilege"
	"github.com/logingate/logingate/internal/store/filestore"
)

// migrate is `logingate migrate` (root): it turns the per-user layout of an
// unprivileged gate (state_dir root-owned 1733 or 0755, each user's
// directory their own) into the protected layout of a setgid gate
// (state_dir root:logingate 0770). Nothing is lost and it is safe to run
// twice. Every user directory is copied afresh and the old one removed, so
// a shell that still holds the old directory open (its working directory,
// say) is left holding a deleted one rather than a way in.
func (a *app) migrate(args []string) error {
	fs := a.flags("migrate")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if os.Getuid() != 0 {
		return errors.New("migrate is for root")
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	grp, err := user.LookupGroup(privilege.GroupName)
	if err != nil {
		return withHint(fmt.Errorf("no %s group", privilege.GroupName), "create it first: groupadd --system "+privilege.GroupName+" (make install does)")
	}
	gid, _ := strconv.Atoi(grp.Gid)
	dir := cfg.StateDir
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return fmt.Errorf("state directory %s is not a directory", dir)
	}
	if st.Uid == 0 && int(st.Gid) == gid && st.Mode&0o007 == 0 && st.Mode&0o070 == 0o070 {
		fmt.Fprintf(a.stdout, "logingate: %s already has the protected layout\n", dir)
		return nil
	}
	// Close the door first: from here on only root gets in. Logins made
	// during the migration are denied (the state cannot be read), never let
	// in.
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	moved := 0
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || filestore.ValidateUser(name) != nil {
			continue
		}
		if err := recopyDir(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("%s: %w (nothing was removed; run migrate again)", name, err)
		}
		moved++
	}
	if err := os.Chown(dir, 0, gid); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o770); err != nil {
		return err
	}
	lg := a.audit(cfg)
	lg.Log(audit.Notice, audit.Event{Action: "migrate", Result: "ok", By: "root", Reason: fmt.Sprintf("%d users moved to the protected layout", moved)})
	lg.Close()
	fmt.Fprintf(a.stdout, "logingate: %s now has the protected layout (root:%s 0770); %d users' state moved\n", dir, privilege.GroupName, moved)
	return nil
}

// recopyDir replaces dir with a fresh copy of its regular files (same
// owner, group and mode), made durable before the old one goes.
func recopyDir(dir string) error {
	parent, name := filepath.Dir(dir), filepath.Base(dir)
	fresh := filepath.Join(parent, ".migrate-"+name)
	old := filepath.Join(parent, ".old-"+name)
	os.RemoveAll(fresh) // left by an interrupted run
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return err
	}
	if err := os.Mkdir(fresh, 0o700); err != nil {
		return err
	}
	if err := os.Chown(fresh, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue // temp files of a killed write are not state
		}
		if err := copyFile(filepath.Join(dir, e.Name()), filepath.Join(fresh, e.Name())); err != nil {
			return err
		}
	}
	if err := syncPath(fresh); err != nil {
		return err
	}
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(fresh, dir); err != nil {
		os.Rename(old, dir)
		return err
	}
	if err := syncPath(parent); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// copyFile copies the regular file src to dst with its owner, group and
// mode. src lies in a directory its user owns and may change while root
// copies it, so it is opened once, never through a link and never waiting
// on a fifo, and what is checked and copied is that descriptor.
func copyFile(src, dst string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("%s is a symbolic link, which is no state file", src)
	}
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	data, err := io.ReadAll(io.LimitReader(in, filestore.MaxStateSize+1))
	if err != nil {
		return err
	}
	if len(data) > filestore.MaxStateSize {
		return fmt.Errorf("%s is larger than %d MiB, which is no state file", src, filestore.MaxStateSize>>20)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(st.Mode&0o777))
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chown(int(st.Uid), int(st.Gid))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
