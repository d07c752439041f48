package privilege

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/need"
)

// trustedDir makes a root-owned 0755 directory whose whole chain passes
// the rule (t.TempDir sits in /tmp, root's and sticky).
func trustedDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "etc")
	mkdir(t, d, 0o755)
	return d
}

func mkdir(t *testing.T, d string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	chmod(t, d, mode)
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	chmod(t, p, mode)
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, p string, uid int) {
	t.Helper()
	if err := os.Lchown(p, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// read opens path under r and returns what it read, or the error.
func read(path string, r Rule) (string, error) {
	f, _, err := Open(path, r)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	return string(b), err
}

func wantRead(t *testing.T, path string, r Rule, want string) {
	t.Helper()
	got, err := read(path, r)
	if err != nil {
		t.Fatalf("Open(%s, %+v): %v", path, r, err)
	}
	if got != want {
		t.Fatalf("Open(%s, %+v) read %q, want %q", path, r, got, want)
	}
}

// wantRefused wants Open to refuse path with an error containing each part.
func wantRefused(t *testing.T, path string, r Rule, parts ...string) {
	t.Helper()
	got, err := read(path, r)
	if err == nil {
		t.Fatalf("Open(%s, %+v) accepted it and read %q", path, r, got)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("Open(%s, %+v): error %q does not contain %q", path, r, err, p)
		}
	}
}

var (
	strict = Rule{}            // a non-root caller's -c to a privileged gate
	links  = Rule{Links: true} // a path root's config names
)

func TestOpenTrustedFile(t *testing.T) {
	d := trustedDir(t)
	f := filepath.Join(d, "logingate.yaml")
	write(t, f, "root's\n", 0o644)
	wantRead(t, f, strict, "root's\n")
	wantRead(t, f, links, "root's\n")

	// A sticky, world-writable directory above the one holding the file
	// (as /tmp) is fine: nobody can rename what root put there.
	sticky := filepath.Join(t.TempDir(), "tmp")
	mkdir(t, sticky, 0o777|os.ModeSticky)
	inner := filepath.Join(sticky, "etc")
	mkdir(t, inner, 0o755)
	write(t, filepath.Join(inner, "c.yaml"), "ok", 0o600)
	wantRead(t, filepath.Join(inner, "c.yaml"), strict, "ok")

	// But not as the directory holding it, where others could put a file
	// by that name before root does.
	write(t, filepath.Join(sticky, "c.yaml"), "ok", 0o600)
	wantRefused(t, filepath.Join(sticky, "c.yaml"), links, "directory "+sticky+" holds the file", "chmod go-w "+sticky)
}

// Reproduction 1 of issue 10: "~/L/../../../etc/..." with L a link the
// user made. Cleaned as text, the path is root's file; walked as the
// kernel walks it, it is the user's. The caller's rule refuses both the
// link and the "..", and root's rule (links followed) reads what the
// kernel would, checked: the user's directory does not pass.
func TestDotDotThroughALink(t *testing.T) {
	need.Root(t)
	base := trustedDir(t)
	write(t, filepath.Join(base, "c.yaml"), "root's", 0o644) // where text cleaning lands
	home := filepath.Join(base, "u", "home")
	mkdir(t, filepath.Dir(home), 0o755)
	mkdir(t, home, 0o755)
	mkdir(t, filepath.Join(home, "a"), 0o755)
	mkdir(t, filepath.Join(home, "a", "b"), 0o755)
	mkdir(t, filepath.Join(home, "a", "b", "c"), 0o755)
	write(t, filepath.Join(home, "c.yaml"), "the user's", 0o644) // where the kernel lands
	symlink(t, filepath.Join(home, "a", "b", "c"), filepath.Join(home, "L"))
	for _, p := range []string{home, filepath.Join(home, "a"), filepath.Join(home, "a", "b"), filepath.Join(home, "a", "b", "c"), filepath.Join(home, "c.yaml"), filepath.Join(home, "L")} {
		chown(t, p, 65534)
	}
	trick := filepath.Join(home, "L") + "/../../../c.yaml"
	if filepath.Clean(trick) != filepath.Join(base, "c.yaml") {
		t.Fatalf("the trick cleans to %s", filepath.Clean(trick))
	}
	if b, _ := os.ReadFile(trick); string(b) != "the user's" {
		t.Fatalf("the kernel reads %q through the trick", b)
	}
	wantRefused(t, trick, strict, `has a ".." component`)
	own := Rule{Owner: 65534} // even were the user's own directories trusted
	wantRefused(t, home+"/L/c.yaml", own, home+"/L is a symbolic link")
	wantRefused(t, home+"/a/b/c/../../../c.yaml", own, `has a ".." component`)
	wantRefused(t, trick, links, "directory "+home+" is owned by uid 65534, not root")
	// Even with the user's own uid qualifying, ".." is the kernel's.
	wantRead(t, trick, Rule{Owner: 65534, Links: true}, "the user's")
}

func TestSymlinks(t *testing.T) {
	d := trustedDir(t)
	real := filepath.Join(d, "real")
	mkdir(t, real, 0o755)
	f := filepath.Join(real, "skey")
	write(t, f, "k", 0o640)

	last := filepath.Join(d, "last")
	symlink(t, f, last)
	mid := filepath.Join(d, "mid")
	symlink(t, "real", mid) // relative, as config management makes them
	up := filepath.Join(d, "up")
	symlink(t, "../etc/real/skey", up)

	for _, p := range []string{last, mid + "/skey", up} {
		wantRefused(t, p, strict, "is a symbolic link")
		wantRead(t, p, links, "k")
	}

	// A link whose target is not root's alone is refused, and so is a
	// link sitting where others could swap it.
	open := filepath.Join(t.TempDir(), "open")
	mkdir(t, open, 0o755)
	write(t, filepath.Join(open, "skey"), "k", 0o600)
	chmod(t, open, 0o777)
	toOpen := filepath.Join(d, "to-open")
	symlink(t, filepath.Join(open, "skey"), toOpen)
	wantRefused(t, toOpen, links, "directory "+open+" is writable by group or others")
	inOpen := filepath.Join(open, "link")
	symlink(t, f, inOpen)
	wantRefused(t, inOpen, links, "directory "+open+" is writable by group or others")

	// Loops end.
	a, b := filepath.Join(d, "a"), filepath.Join(d, "b")
	symlink(t, b, a)
	symlink(t, a, b)
	wantRefused(t, a, links, "too many levels of symbolic links")
}

// /proc's links lead to whatever a process holds, not to a name: never
// followed, whatever the rule, and nothing on /proc is read.
func TestMagicLinksRefused(t *testing.T) {
	d := trustedDir(t)
	f := filepath.Join(d, "c.yaml")
	write(t, f, "x", 0o644)
	h, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	t.Chdir(d)
	fd := fmt.Sprint(h.Fd())
	for _, p := range []string{
		"/proc/self/fd/" + fd,
		"/dev/fd/" + fd,
		"/proc/self/root" + f,
		"/proc/self/cwd/c.yaml",
		"/proc/" + fmt.Sprint(os.Getpid()) + "/root" + f,
		"/proc/version",
	} {
		for _, r := range []Rule{strict, links, {Owner: os.Geteuid(), Links: true}} {
			if _, err := read(p, r); err == nil {
				t.Errorf("Open(%s, %+v) accepted it", p, r)
			} else if r.Links && !strings.Contains(err.Error(), "is on /proc") {
				t.Errorf("Open(%s, %+v): %v, want it refused for /proc", p, r, err)
			}
		}
	}
}

func TestNotARegularFile(t *testing.T) {
	d := trustedDir(t)
	fifo := filepath.Join(d, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wantRefused(t, fifo, links, fifo+" is not a regular file")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Open blocked on a fifo")
	}
	wantRefused(t, d, links, d+" is a directory")
	wantRefused(t, "/", links, "/ is a directory")
	wantRefused(t, "/dev/null", links, "/dev/null is not a regular file")
	wantRefused(t, filepath.Join(d, "none"), links, "no such file or directory")
	write(t, filepath.Join(d, "file"), "x", 0o644)
	wantRefused(t, filepath.Join(d, "file", "c.yaml"), links, "not a directory")
	wantRefused(t, "etc/c.yaml", strict, "not an absolute path")
}

func TestOwnersAndModes(t *testing.T) {
	need.Root(t)
	const other = 65534

	d := trustedDir(t)
	f := filepath.Join(d, "c.yaml")
	write(t, f, "x", 0o644)
	chown(t, f, other)
	wantRefused(t, f, strict, f+" is owned by uid 65534, not root", "chown root:root "+f)
	wantRefused(t, f, links, "owned by uid 65534")
	// An unprivileged process's own files qualify: its personal config.
	wantRead(t, f, Rule{Owner: other}, "x")

	d = trustedDir(t)
	f = filepath.Join(d, "c.yaml")
	write(t, f, "x", 0o644)
	chown(t, d, other)
	wantRefused(t, f, strict, "directory "+d+" is owned by uid 65534, not root")
	wantRead(t, f, Rule{Owner: other}, "x")

	for _, mode := range []os.FileMode{0o664, 0o646, 0o666} {
		d := trustedDir(t)
		f := filepath.Join(d, "c.yaml")
		write(t, f, "x", mode)
		wantRefused(t, f, links, "writable by group or others", "chmod go-w "+f)
	}
	for _, mode := range []os.FileMode{0o775, 0o757, 0o777} {
		d := trustedDir(t)
		f := filepath.Join(d, "c.yaml")
		write(t, f, "x", 0o644)
		chmod(t, d, mode)
		wantRefused(t, f, links, "directory "+d+" is writable by group or others", "chmod go-w "+d)
		// An ancestor without the sticky bit too.
		inner := filepath.Join(d, "in")
		mkdir(t, inner, 0o755)
		write(t, filepath.Join(inner, "c.yaml"), "x", 0o644)
		wantRefused(t, filepath.Join(inner, "c.yaml"), links, "directory "+d+" is writable")
	}
}

// Check reports every problem at once, for doctor and check-config.
func TestCheckCollects(t *testing.T) {
	top := filepath.Join(t.TempDir(), "top")
	mkdir(t, top, 0o777)
	d := filepath.Join(top, "etc")
	mkdir(t, d, 0o775)
	f := filepath.Join(d, "c.yaml")
	write(t, f, "x", 0o666)
	probs, err := Check(f, links)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range probs {
		got = append(got, p.Path)
	}
	if want := []string{top, d, f}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Check found problems at %v, want %v", got, want)
	}
	if probs, err := Check(filepath.Join(trustedDir(t), "none"), links); err == nil || len(probs) != 0 {
		t.Errorf("a missing file: %v, %v", probs, err)
	}
}

// A file replaced after Open has checked it changes nothing that is read:
// the descriptor is the checked inode. And while a loop keeps swapping a
// safe file and an unsafe one under the same name, every Open that
// succeeds has read the safe one, in thousands of tries.
func TestReplacedFileIsNotRead(t *testing.T) {
	d := trustedDir(t)
	f := filepath.Join(d, "c.yaml")
	write(t, f, "checked", 0o644)
	h, st, err := Open(f, strict)
	if err != nil {
		t.Fatal(err)
	}
	write(t, f+".new", "swapped", 0o666)
	if err := os.Rename(f+".new", f); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(h)
	h.Close()
	if string(b) != "checked" || st.Mode&0o777 != 0o644 {
		t.Fatalf("read %q (mode %o) after a swap, want the checked file", b, st.Mode&0o777)
	}

	safe, unsafe := filepath.Join(d, "safe"), filepath.Join(d, "unsafe")
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			src, data, mode := safe, "safe", os.FileMode(0o644)
			if i%2 == 1 {
				src, data, mode = unsafe, "unsafe", 0o666
			}
			if os.WriteFile(src, []byte(data), 0o600) != nil || os.Chmod(src, mode) != nil || os.Rename(src, f) != nil {
				t.Error("swap failed")
				return
			}
		}
	}()
	var ok, refused int
	for i := 0; i < 5000; i++ {
		got, err := read(f, strict)
		var u *Unsafe
		switch {
		case err == nil && got == "safe":
			ok++
		case err == nil:
			t.Fatalf("read %q, which was never checked as safe", got)
		case errors.As(err, &u), errors.Is(err, fs.ErrNotExist):
			refused++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d reads of the safe file, %d refused, no unsafe read", ok, refused)
	if ok == 0 || refused == 0 {
		t.Errorf("the race never went both ways (%d ok, %d refused): the test proves nothing", ok, refused)
	}
}

// BenchmarkOpen is the cost of the walk for a config at the default depth
// (/etc/logingate/logingate.yaml has three components), against a plain
// read of the same file.
func BenchmarkOpen(b *testing.B) {
	d := filepath.Join(b.TempDir(), "etc")
	if err := os.Mkdir(d, 0o755); err != nil {
		b.Fatal(err)
	}
	f := filepath.Join(d, "logingate.yaml")
	if err := os.WriteFile(f, []byte("state_dir: /var/lib/logingate\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			h, _, err := Open(f, Rule{Owner: os.Geteuid()})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadAll(h); err != nil {
				b.Fatal(err)
			}
			h.Close()
		}
	})
	b.Run("readfile", func(b *testing.B) {
		for b.Loop() {
			if _, err := os.ReadFile(f); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSocketDir: a server's socket directory (a DSN's host=/dir) may be the
// server user's, but one where others can bind a socket (sticky /tmp) or
// make the directory (a directory in /tmp) is refused.
func TestSocketDir(t *testing.T) {
	need.Root(t)
	base := trustedDir(t)
	server := filepath.Join(base, "postgresql")
	mkdir(t, server, os.ModeSetgid|0o775)
	chown(t, server, 65534)
	tmp := filepath.Join(base, "tmp")
	mkdir(t, tmp, os.ModeSticky|0o777)
	inTmp := filepath.Join(tmp, "pg")
	mkdir(t, inTmp, 0o755)
	chown(t, inTmp, 65534)
	link := filepath.Join(base, "run")
	if err := os.Symlink(server, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{server, server + "/", server + "/.", link} {
		if err := CheckSocketDir(p, Rule{Links: true}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, p := range []string{tmp, tmp + "/", inTmp, filepath.Join(tmp, "missing")} {
		var u *Unsafe
		if err := CheckSocketDir(p, Rule{Links: true}); !errors.As(err, &u) {
			t.Errorf("%s: got %v, want it refused as unsafe", p, err)
		}
	}
}

// TestLinkOwner: a link is followed only when root (or the rule's owner)
// owns it. In a sticky directory such as /tmp anyone may plant a link by a
// name root's config uses, and so choose which file is read.
func TestLinkOwner(t *testing.T) {
	need.Root(t)
	base := trustedDir(t)
	tmp := filepath.Join(base, "tmp")
	mkdir(t, tmp, os.ModeSticky|0o777)
	target := filepath.Join(base, "other.pem")
	write(t, target, "root's other file\n", 0o644)
	planted := filepath.Join(tmp, "ca.pem")
	if err := os.Symlink(target, planted); err != nil {
		t.Fatal(err)
	}
	chown(t, planted, 65534)
	dirLink := filepath.Join(tmp, "conf")
	if err := os.Symlink(base, dirLink); err != nil {
		t.Fatal(err)
	}
	chown(t, dirLink, 65534)
	for _, p := range []string{planted, filepath.Join(dirLink, "other.pem")} {
		var u *Unsafe
		if got, err := read(p, Rule{Links: true}); !errors.As(err, &u) {
			t.Errorf("%s, a link another user owns: read %q, %v; want it refused", p, got, err)
		}
		if probs, err := Check(p, Rule{Links: true}); err == nil && len(probs) == 0 {
			t.Errorf("Check(%s) finds nothing wrong", p)
		}
	}
	chown(t, planted, 0)
	if got, err := read(planted, Rule{Links: true}); err != nil || got != "root's other file\n" {
		t.Errorf("a link root owns: read %q, %v", got, err)
	}
}
