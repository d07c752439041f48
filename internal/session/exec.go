package session

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/logingate/logingate/internal/privilege"
)

// sftpServerPaths are where the sftp-server binary lives on common systems
// (Debian/Ubuntu, Fedora/RHEL, some BSD-style layouts, Arch). The first
// executable one replaces an "internal-sftp" command.
var sftpServerPaths = []string{
	"/usr/lib/openssh/sftp-server",
	"/usr/libexec/openssh/sftp-server",
	"/usr/libexec/sftp-server",
	"/usr/lib/ssh/sftp-server",
}

// errNoSFTPServer means an internal-sftp request arrived and no sftp-server
// binary was found.
var errNoSFTPServer = errors.New("internal-sftp requested but no sftp-server binary found")

// argv returns what Exec runs, the way sshd and login_duo run it:
//
//   - with a command: the user's shell, argv ["<basename>", "-c", command];
//     the command string is passed untouched, its quoting is the shell's;
//   - without: the login shell, argv ["-<basename>"];
//   - a command whose first word is "internal-sftp" (sshd's built-in sftp,
//     which is no executable) has that word replaced by the sftp-server
//     binary, keeping the rest of the command, and runs through the shell
//     like any command (so a nologin shell still refuses it).
func (s *Session) argv() (path string, argv []string, err error) {
	if s.User == nil {
		return "", nil, errors.New("session has no user")
	}
	shell := s.User.Shell
	if shell == "" {
		shell = defaultShell
	}
	if !filepath.IsAbs(shell) {
		return "", nil, fmt.Errorf("shell %q of user %q is not an absolute path", shell, s.User.Name)
	}
	base := filepath.Base(shell)
	if !s.HasCommand {
		return shell, []string{"-" + base}, nil
	}
	cmd, err := mapInternalSFTP(s.Command)
	if err != nil {
		return "", nil, err
	}
	return shell, []string{base, "-c", cmd}, nil
}

// mapInternalSFTP replaces a leading "internal-sftp" word by the sftp-server
// binary, keeping whatever follows it byte for byte.
func mapInternalSFTP(cmd string) (string, error) {
	const word = "internal-sftp"
	rest := strings.TrimLeft(cmd, " \t")
	if !strings.HasPrefix(rest, word) {
		return cmd, nil
	}
	rest = rest[len(word):]
	if rest != "" && !strings.ContainsRune(" \t\n", rune(rest[0])) {
		return cmd, nil // internal-sftpx is some other word
	}
	for _, p := range sftpServerPaths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p + rest, nil
		}
	}
	return "", errNoSFTPServer
}

// scrubEnv returns env without logingate's own variables (LOGINGATE_PASSCODE,
// DUO_PASSCODE): every occurrence, including duplicates and malformed entries
// without "=". The input is not modified.
func scrubEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		key, _, _ := strings.Cut(kv, "=")
		secret := false
		for _, v := range passcodeVars {
			if key == v {
				secret = true
			}
		}
		if !secret {
			out = append(out, kv)
		}
	}
	return out
}

// Exec replaces the gate with the user's session (see argv). It returns only
// on failure; on success the session's exit status is the command's. After a
// failure signal handling is already back to default: the caller reports the
// error and exits.
//
// SECURITY-SENSITIVE AND ORDER-DEPENDENT: drop the privilege first, exec (never
// spawn), scrub the passcode variables, reset only the caught signals (never
// signal.Ignore), leak no descriptor (all O_CLOEXEC), stdio back to blocking.
// Why each, and what proves it: docs/DESIGN.md, "Handing over: exec". Rerun
// TestExecHandsOver and e2e TestPrivilegedSessionHoldsNothing after any change.
func (s *Session) Exec(caught ...os.Signal) error {
	if err := privilege.Drop(); err != nil {
		return err
	}
	path, argv, err := s.argv()
	if err != nil {
		return err
	}
	env := scrubEnv(s.Env)
	for fd := 0; fd <= 2; fd++ {
		_ = syscall.SetNonblock(fd, false) // a closed fd is not our problem here
	}
	if len(caught) > 0 {
		signal.Reset(caught...) // with no argument it would reset all 65
	}
	err = syscall.Exec(path, argv, env)
	return fmt.Errorf("exec %s: %w", path, err)
}
