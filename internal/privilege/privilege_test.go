package privilege

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/logingate/logingate/internal/testutil/need"
	"golang.org/x/sys/unix"
)

const helperEnv = "LOGINGATE_PRIVILEGE_HELPER"

// TestMain lets the test binary, installed setgid, stand in for the gate.
func TestMain(m *testing.M) {
	if f := os.Getenv(helperEnv); f != "" {
		os.Exit(helper(f))
	}
	os.Exit(m.Run())
}

// helper runs setgid as an unprivileged user: it reports what it holds,
// opens a group-only file with and without the caller's rights, drops the
// group and reports again.
func helper(groupOnly string) int {
	r, e, s := unix.Getresgid()
	fmt.Printf("privileged=%v start=%d,%d,%d\n", Privileged(), r, e, s)
	if err := EmptyEnv(os.Environ()); err != nil {
		fmt.Printf("empty-env-error=%v\n", err)
		return 1
	}
	fmt.Printf("env-left=%d\n", len(os.Environ()))
	fmt.Printf("rule-named=%+v rule-root=%+v\n", For(true), For(false))
	fmt.Printf("rsa-kex-offered=%v\n", offersRSAKeyExchange())
	if _, err := os.ReadFile(groupOnly); err == nil {
		fmt.Println("gate-read=ok")
	}
	err := AsCaller(func() error { _, err := os.ReadFile(groupOnly); return err })
	fmt.Printf("caller-read=%v\n", err == nil)
	r, e, s = unix.Getresgid()
	fmt.Printf("after-ascaller=%d,%d,%d\n", r, e, s)
	if err := Drop(); err != nil {
		fmt.Println("drop-error:", err)
		return 1
	}
	r, e, s = unix.Getresgid()
	fmt.Printf("dropped=%d,%d,%d\n", r, e, s)
	// A dropped process cannot take the group back.
	if err := syscall.Setresgid(-1, e, -1); err == nil {
		if err := syscall.Setresgid(-1, start.Effective, -1); err == nil {
			fmt.Println("regained")
		}
	}
	return 0
}

// offersRSAKeyExchange reports whether a default TLS client offers the RSA
// key exchange that Go leaves out unless GODEBUG=tlsrsakex=1.
func offersRSAKeyExchange() bool {
	c, s := net.Pipe()
	defer c.Close()
	hello := make(chan []uint16, 1)
	go func() {
		defer s.Close()
		srv := tls.Server(s, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			hello <- h.CipherSuites
			return nil, errors.New("enough")
		}})
		srv.Handshake()
	}()
	tls.Client(c, &tls.Config{ServerName: "example.org"}).Handshake()
	return slices.Contains(<-hello, tls.TLS_RSA_WITH_AES_128_GCM_SHA256)
}

func TestUnprivilegedIsPlain(t *testing.T) {
	if Privileged() {
		t.Skip("the test binary itself runs setgid")
	}
	// Unprivileged, the running user's own files qualify (a personal
	// config) and links are followed: it holds nothing the caller lacks.
	if want := (Rule{Owner: os.Geteuid(), Links: true}); For(true) != want || For(false) != want {
		t.Errorf("For: %+v, %+v; want %+v", For(true), For(false), want)
	}
	ran := false
	if err := AsCaller(func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("AsCaller: ran %v, err %v", ran, err)
	}
	if err := Drop(); err != nil {
		t.Fatalf("Drop without privilege: %v", err)
	}
}

// TestDropInSetgidBinary installs the test binary setgid root and runs it as
// nobody: it must start privileged, open files with the caller's rights on
// request, and after Drop hold nothing (real, effective and saved) and be
// unable to regain it.
func TestDropInSetgidBinary(t *testing.T) {
	need.Root(t)
	dir, err := os.MkdirTemp("", "privilege-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "gate")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(bin, 0, 0)
	if err := os.Chmod(bin, 0o755|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	groupOnly := filepath.Join(dir, "group-only")
	os.WriteFile(groupOnly, []byte("x"), 0o640) // root:root: group 0 may read, nobody may not

	asNobody := func(env ...string) *exec.Cmd {
		cmd := exec.Command(bin)
		cmd.Env = append([]string{helperEnv + "=" + groupOnly}, env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		return cmd
	}
	// A GODEBUG that would weaken TLS is undone with the environment.
	cmd := asNobody("PGHOST=/caller/chose/this", "PGPASSFILE=/caller/chose/this", "GODEBUG=tlsrsakex=1,tls10server=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{
		"privileged=true start=65534,0,0",
		"env-left=0",
		// The caller's uid never qualifies, and a path the caller
		// names follows no link.
		"rule-named={Owner:0 Links:false} rule-root={Owner:0 Links:true}",
		"rsa-kex-offered=false",
		"gate-read=ok",
		"caller-read=false",
		"after-ascaller=65534,0,0",
		"dropped=65534,65534,65534",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "regained") {
		t.Errorf("the group could be regained after Drop:\n%s", got)
	}

	// The setting Go fixes before main is refused.
	out, err = asNobody("GODEBUG=x509negativeserial=1,fips140=only").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "empty-env-error=GODEBUG sets fips140,") {
		t.Errorf("helper with GODEBUG=fips140=only: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "gate-read") {
		t.Errorf("the helper went on with fips140 set:\n%s", out)
	}
}
