package sshtest

import (
	"os/exec"
	"strconv"
	"strings"
)

// clientOptions are the options every client command gets: the user's key
// only, no host key checks, no prompts, no config files of this machine
// (-F /dev/null also skips /etc/ssh/ssh_config), errors only.
func clientOptions(u *User) []string {
	return []string{
		"-F", "/dev/null",
		"-i", u.KeyPath,
		"-o", "IdentitiesOnly=yes",
		"-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes",
		"-o", "LogLevel=ERROR",
	}
}

// Destination is "NAME@127.0.0.1".
func (s *Server) Destination(u *User) string { return u.Name + "@127.0.0.1" }

// Remote is an scp or rsync remote path: "NAME@127.0.0.1:path".
func (s *Server) Remote(u *User, path string) string { return s.Destination(u) + ":" + path }

// SSH returns `ssh` logging in as u, followed by args. OpenSSH reads options
// after the destination too, so args may start with options (-tt, -o
// SendEnv=...), then the remote command.
func (s *Server) SSH(u *User, args ...string) *exec.Cmd {
	argv := append([]string{"-p", strconv.Itoa(s.Port)}, clientOptions(u)...)
	argv = append(argv, s.Destination(u))
	return exec.Command("ssh", append(argv, args...)...)
}

// SCP returns `scp` with u's options followed by args (options, then
// sources and target; name remote files with Remote). Since OpenSSH 9.0 scp
// speaks SFTP; pass -O for the legacy protocol, which runs `scp -t/-f` as
// the remote command.
func (s *Server) SCP(u *User, args ...string) *exec.Cmd {
	argv := append([]string{"-P", strconv.Itoa(s.Port)}, clientOptions(u)...)
	return exec.Command("scp", append(argv, args...)...)
}

// SFTP returns `sftp -b batch` logging in as u; args are extra options.
// batch is a file of sftp commands, or "-" for the command's stdin; sftp
// stops at the first failing command and exits non-zero.
func (s *Server) SFTP(u *User, batch string, args ...string) *exec.Cmd {
	argv := append([]string{"-P", strconv.Itoa(s.Port), "-b", batch}, clientOptions(u)...)
	argv = append(argv, args...)
	return exec.Command("sftp", append(argv, s.Destination(u))...)
}

// SSHCommand returns the ssh command line without destination, shell-quoted,
// for tools that take one: `rsync -e "$cmd"`, GIT_SSH_COMMAND="$cmd".
func (s *Server) SSHCommand(u *User) string {
	argv := append([]string{"ssh", "-p", strconv.Itoa(s.Port)}, clientOptions(u)...)
	for i, a := range argv {
		argv[i] = shellQuote(a)
	}
	return strings.Join(argv, " ")
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
