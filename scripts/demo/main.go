// Command demo runs logingate for real on this machine: a throwaway sshd on
// 127.0.0.1 with logingate as its ForceCommand, a demo account enrolled on
// the spot, and the audit log printed as logins happen. Ctrl-C stops sshd,
// removes the account and the demo directory. Needs root (sshd and useradd).
//
//	go run ./scripts/demo [-port 2222] [-check]
//
// -check logs in once without a person (a TOTP code from oathtool sent in
// LOGINGATE_PASSCODE), prints the result and stops: a smoke test of the demo.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const demoUser = "lgdemo"

func main() {
	port := flag.Int("port", 2222, "loopback port for the demo sshd")
	check := flag.Bool("check", false, "log in once with a computed code, then stop")
	bin := flag.String("bin", "bin/logingate", "the logingate binary")
	flag.Parse()
	if err := run(*port, *check, *bin); err != nil {
		fmt.Fprintf(os.Stderr, "demo: error: %v\n", err)
		os.Exit(1)
	}
}

func run(port int, check bool, bin string) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("the demo starts sshd and creates a demo account: run it as root (sudo make demo)")
	}
	dir, err := os.MkdirTemp("", "logingate-demo-")
	if err != nil {
		return err
	}
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		os.RemoveAll(dir)
	}()
	// The demo account must reach the binary and the config.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	gate := filepath.Join(dir, "logingate")
	if err := copyFile(bin, gate, 0o755); err != nil {
		return fmt.Errorf("%v (build it first: make build)", err)
	}
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(state, 0o733|os.ModeSticky); err != nil {
		return err
	}
	auditSock := filepath.Join(dir, "audit.sock")
	cfg := filepath.Join(dir, "logingate.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`# logingate demo configuration
groups: ["*"]
unenrolled: deny
accept_env_factor: true
state_dir: %s
totp: {issuer: "logingate demo"}
syslog: {socket: %s}
`, state, auditSock)), 0o644); err != nil {
		return err
	}

	// The audit log, shown as it happens.
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: auditSock, Net: "unixgram"})
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { conn.Close() })
	if err := os.Chmod(auditSock, 0o666); err != nil { // like /dev/log: every login writes to it
		return err
	}
	go printAudit(conn)

	if err := addUser(); err != nil {
		return err
	}
	cleanups = append(cleanups, removeUser)
	home, err := homeOf(demoUser)
	if err != nil {
		return err
	}
	key := filepath.Join(dir, "id_ed25519")
	if err := sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "logingate-demo", "-f", key); err != nil {
		return err
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		return err
	}
	if err := installKey(home, pub); err != nil {
		return err
	}

	enroll := exec.Command(gate, "-c", cfg, "enroll", "--user", demoUser, "--no-verify", "--json", "--qr-png", filepath.Join(dir, "qr.png"))
	enroll.Stderr = os.Stderr
	out, err := enroll.Output()
	if err != nil {
		return fmt.Errorf("enrolling %s: %v: %s", demoUser, err, out)
	}
	var enrolled struct {
		URI   string   `json:"otpauth_uri"`
		Codes []string `json:"backup_codes"`
	}
	if err := json.Unmarshal(out, &enrolled); err != nil {
		return fmt.Errorf("enrolling %s: %v", demoUser, err)
	}
	u, err := url.Parse(enrolled.URI)
	if err != nil {
		return err
	}
	secret := u.Query().Get("secret")

	pid, err := startSSHD(dir, port, gate, cfg)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { stopSSHD(pid) })

	sshOpts := fmt.Sprintf("ssh -p %d -i %s -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null", port, key)
	sshCmd := sshOpts + " " + demoUser + "@127.0.0.1"
	fmt.Printf(`
logingate demo: sshd on 127.0.0.1:%d runs %s as its ForceCommand.

  log in (asks for a code):  %s
  a code without a phone:    oathtool --totp -b %s
  or scan with a phone:      %s (otpauth URI: %s)
  backup codes (once each):  %s
  non-interactive, no menu:  LOGINGATE_PASSCODE=$(oathtool --totp -b %s) %s -o SendEnv=LOGINGATE_PASSCODE %s@127.0.0.1 'id; exit 3'
  the user's state:          %s status --user %s -c %s

Audit lines appear below as logins happen. Ctrl-C stops sshd and removes the %s account.
`, port, gate, sshCmd, secret, filepath.Join(dir, "qr.png"), enrolled.URI, strings.Join(enrolled.Codes, " "), secret, sshOpts, demoUser, gate, demoUser, cfg, demoUser)

	if check {
		return selfCheck(secret, port, key)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	<-sig
	fmt.Println("\ndemo: stopping")
	return nil
}

// selfCheck logs in once with a computed code and checks the command ran.
func selfCheck(secret string, port int, key string) error {
	code, err := exec.Command("oathtool", "--totp", "-b", secret).Output()
	if err != nil {
		return fmt.Errorf("oathtool: %v", err)
	}
	cmd := exec.Command("ssh", "-p", strconv.Itoa(port), "-i", key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "SendEnv=LOGINGATE_PASSCODE",
		demoUser+"@127.0.0.1", "echo demo-ok-$(id -un)")
	cmd.Env = append(os.Environ(), "LOGINGATE_PASSCODE="+strings.TrimSpace(string(code)))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "demo-ok-"+demoUser) {
		return fmt.Errorf("check login failed: %v: %s", err, out)
	}
	time.Sleep(200 * time.Millisecond) // let the audit line print
	fmt.Println("demo: check passed: logged in with a TOTP code and ran a command")
	return nil
}

func printAudit(c *net.UnixConn) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		line := string(buf[:n])
		if i := strings.Index(line, ">"); i >= 0 {
			line = line[i+1:]
		}
		fmt.Println("audit:", line)
	}
}

func startSSHD(dir string, port int, gate, cfg string) (int, error) {
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	if err := sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey); err != nil {
		return 0, err
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return 0, err
	}
	pidFile := filepath.Join(dir, "sshd.pid")
	conf := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`ListenAddress 127.0.0.1
Port %d
HostKey %s
PidFile %s
AllowUsers %s
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
ExposeAuthInfo yes
DisableForwarding yes
PermitTunnel no
PermitUserRC no
PermitUserEnvironment no
AcceptEnv LANG LC_* LOGINGATE_PASSCODE
Subsystem sftp internal-sftp
ForceCommand %s -c %s
`, port, hostKey, pidFile, demoUser, gate, cfg)), 0o644); err != nil {
		return 0, err
	}
	if out, err := exec.Command("/usr/sbin/sshd", "-t", "-f", conf).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("sshd -t: %v: %s", err, out)
	}
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		return 0, err
	}
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", conf)
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return cmd.Process.Pid, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	log, _ := os.ReadFile(logf.Name())
	return 0, fmt.Errorf("sshd did not start on port %d (is it taken? try -port): %s", port, log)
}

func stopSSHD(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Signal(syscall.SIGTERM)
		p.Wait()
	}
}

func addUser() error {
	if _, err := homeOf(demoUser); err == nil {
		return fmt.Errorf("account %s already exists; remove it (userdel -r %s) or stop the other demo", demoUser, demoUser)
	}
	if err := sh("useradd", "-m", "-s", "/bin/bash", demoUser); err != nil {
		return err
	}
	return sh("usermod", "-p", "*", demoUser)
}

func removeUser() {
	exec.Command("pkill", "-KILL", "-u", demoUser).Run()
	exec.Command("userdel", "-r", demoUser).Run()
}

func homeOf(name string) (string, error) {
	out, err := exec.Command("getent", "passwd", name).Output()
	if err != nil {
		return "", err
	}
	f := strings.Split(strings.TrimSpace(string(out)), ":")
	if len(f) < 7 {
		return "", errors.New("bad passwd entry")
	}
	return f[5], nil
}

func installKey(home string, pub []byte) error {
	ssh := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(ssh, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ssh, "authorized_keys"), pub, 0o600); err != nil {
		return err
	}
	return sh("chown", "-R", demoUser+":", ssh)
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

func sh(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, out)
	}
	return nil
}
