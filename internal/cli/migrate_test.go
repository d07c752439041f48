package cli

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// migrate copies files from directories their users own, as root: a file
// swapped for a link or a fifo after the directory was listed is refused,
// never followed or waited on.
func TestCopyFileRefusesWhatIsNoStateFile(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("root's secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "state.json")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{link, fifo, dir} {
		dst := filepath.Join(t.TempDir(), "copy")
		done := make(chan error, 1)
		go func() { done <- copyFile(src, dst) }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("copyFile(%s) copied it", filepath.Base(src))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("copyFile(%s) is still waiting", filepath.Base(src))
		}
		if _, err := os.Lstat(dst); err == nil {
			t.Errorf("copyFile(%s) left a copy", filepath.Base(src))
		}
	}

	// A regular file is copied with its mode.
	dst := filepath.Join(t.TempDir(), "copy")
	if err := copyFile(secret, dst); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != "root's secret\n" {
		t.Errorf("copy holds %q, %v", b, err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("copy mode %v, %v; want 0600", fi.Mode(), err)
	}
}
