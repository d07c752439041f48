package session

import (
	"os"
	"slices"
	"testing"
)

func TestMain(m *testing.M) {
	// The exec and getent tests re-run this binary as a stand-in gate
	// (exec_test.go, getent_test.go).
	switch mode := os.Getenv(helperEnv); mode {
	case "":
	case modeGetent:
		os.Exit(getentHelper())
	default:
		os.Exit(execHelper(mode))
	}
	os.Exit(m.Run())
}

func TestFromEnv(t *testing.T) {
	alice := &User{Name: "alice", UID: 1000, GID: 1000, Home: "/home/alice", Shell: "/bin/bash"}
	tests := []struct {
		name    string
		env     []string
		args    []string
		host    string
		remote  string
		command string
		hasCmd  bool
	}{
		{name: "plain shell", env: []string{"SSH_CONNECTION=203.0.113.9 50022 192.0.2.1 22"}, remote: "203.0.113.9"},
		{name: "ssh client fallback", env: []string{"SSH_CLIENT=203.0.113.10 50022 22"}, remote: "203.0.113.10"},
		{name: "connection wins over client", env: []string{"SSH_CLIENT=203.0.113.10 1 22", "SSH_CONNECTION=203.0.113.9 1 192.0.2.1 22"}, remote: "203.0.113.9"},
		{name: "host flag when no ssh vars", host: "198.51.100.7", remote: "198.51.100.7"},
		{name: "ssh var wins over host flag", env: []string{"SSH_CONNECTION=203.0.113.9 1 192.0.2.1 22"}, host: "198.51.100.7", remote: "203.0.113.9"},
		{name: "garbage connection falls back", env: []string{"SSH_CONNECTION=evil.example 1 2 3", "SSH_CLIENT=203.0.113.10 1 22"}, remote: "203.0.113.10"},
		{name: "empty connection falls back to flag", env: []string{"SSH_CONNECTION="}, host: "198.51.100.7", remote: "198.51.100.7"},
		{name: "hostname flag is not an address", host: "client.example.org", remote: ""},
		{name: "nothing", remote: ""},
		{name: "control bytes rejected", env: []string{"SSH_CONNECTION=1.2.3.4\x1b[2J 1 2 3"}, remote: ""},
		{name: "ipv6 canonical", env: []string{"SSH_CONNECTION=2001:DB8:0:0::1 1 ::1 22"}, remote: "2001:db8::1"},
		{name: "ipv4-mapped unmapped", env: []string{"SSH_CONNECTION=::ffff:203.0.113.9 1 ::1 22"}, remote: "203.0.113.9"},
		{name: "zone dropped", host: "fe80::1%\x1b]0;pwned\x07", remote: "fe80::1"},
		{name: "first occurrence counts", env: []string{"SSH_CONNECTION=203.0.113.1 1 2 3", "SSH_CONNECTION=203.0.113.2 1 2 3"}, remote: "203.0.113.1"},

		{name: "original command", env: []string{"SSH_ORIGINAL_COMMAND=ls -la 'a b'"}, command: "ls -la 'a b'", hasCmd: true},
		{name: "args win over original command", env: []string{"SSH_ORIGINAL_COMMAND=rm -rf ~"}, args: []string{"echo", "hi"}, command: "echo hi", hasCmd: true},
		{name: "args joined by single spaces, untouched", args: []string{"printf", "'%s\\n'", "a  b"}, command: "printf '%s\\n' a  b", hasCmd: true},
		{name: "empty original command is a login shell", env: []string{"SSH_ORIGINAL_COMMAND="}, hasCmd: false},
		{name: "empty args word still a command", args: []string{""}, command: "", hasCmd: true},
		{name: "internal-sftp kept verbatim here", env: []string{"SSH_ORIGINAL_COMMAND=internal-sftp"}, command: "internal-sftp", hasCmd: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := FromEnv(tt.env, tt.args, tt.host, alice)
			if s.Remote != tt.remote {
				t.Errorf("Remote = %q, want %q", s.Remote, tt.remote)
			}
			if s.Command != tt.command || s.HasCommand != tt.hasCmd {
				t.Errorf("Command, HasCommand = %q, %v, want %q, %v", s.Command, s.HasCommand, tt.command, tt.hasCmd)
			}
			if s.User != alice {
				t.Errorf("User not kept")
			}
			if !slices.Equal(s.Env, tt.env) {
				t.Errorf("Env = %q, want %q", s.Env, tt.env)
			}
		})
	}
}

func TestFromEnvCopiesEnv(t *testing.T) {
	env := []string{"A=1"}
	s := FromEnv(env, nil, "", &User{})
	env[0] = "A=2"
	if s.Env[0] != "A=1" {
		t.Errorf("Session.Env shares the caller's slice")
	}
}

func TestPasscodeFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		code string
		ok   bool
	}{
		{"none", []string{"HOME=/root"}, "", false},
		{"logingate", []string{"LOGINGATE_PASSCODE=123456"}, "123456", true},
		{"duo", []string{"DUO_PASSCODE=654321"}, "654321", true},
		{"logingate wins", []string{"DUO_PASSCODE=654321", "LOGINGATE_PASSCODE=123456"}, "123456", true},
		{"empty counts as unset", []string{"LOGINGATE_PASSCODE=", "DUO_PASSCODE=654321"}, "654321", true},
		{"both empty", []string{"LOGINGATE_PASSCODE=", "DUO_PASSCODE="}, "", false},
		{"malformed entry ignored", []string{"LOGINGATE_PASSCODE"}, "", false},
		{"value with equals", []string{"LOGINGATE_PASSCODE=ab=cd"}, "ab=cd", true},
		{"first occurrence", []string{"LOGINGATE_PASSCODE=111111", "LOGINGATE_PASSCODE=222222"}, "111111", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ok := PasscodeFromEnv(tt.env)
			if code != tt.code || ok != tt.ok {
				t.Errorf("PasscodeFromEnv = %q, %v, want %q, %v", code, ok, tt.code, tt.ok)
			}
		})
	}
}
