package doctor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Forwarding off one knob at a time, so that one kind can be left open.
const noDisable = "DisableForwarding no\nAllowTcpForwarding no\nAllowStreamLocalForwarding no"

// TestSSHDConfigs runs doctor against real sshd configurations: Debian's
// default, the shipped hardened one, and the hardened one with one bypass
// left open. Each must report exactly its open bypass as high.
func TestSSHDConfigs(t *testing.T) {
	requireRoot(t)
	type check struct {
		id       string
		context  string // the finding's context must contain this
		notCtx   string // ... and must not contain this
		contains string // its problem or fix must contain this
	}
	cases := []struct {
		name     string
		spec     func(t *testing.T) hostSpec
		setup    func(t *testing.T, h *testHost)
		wantHigh []string // exactly these high findings
		want     []check  // and these findings, of any severity
		only     bool     // no finding above info but those in want
		exit     int
	}{
		{
			name:     "debian default",
			spec:     func(t *testing.T) hostSpec { return hostSpec{} },
			wantHigh: []string{"forcecommand-missing", "tcp-forwarding", "streamlocal-forwarding", "user-rc", "pam-user-readenv"},
			want: []check{{id: "agent-forwarding"}, {id: "x11-forwarding", contains: "X11Forwarding no"}, {id: "exposeauthinfo"},
				{id: "forcecommand-missing", context: "every connection"}},
			exit: 1,
		},
		{
			name: "shipped hardened",
			spec: func(t *testing.T) hostSpec {
				return hostSpec{dropins: map[string]string{"00-logingate.conf": hardened(t)}, pam: hardenedPAM(t)}
			},
			want: []check{{id: "state-dir", contains: "protected layout"}},
			only: true,
		},
		{
			name: "hardened drop-in, debian pam",
			spec: func(t *testing.T) hostSpec {
				return hostSpec{dropins: map[string]string{"00-logingate.conf": hardened(t)}}
			},
			wantHigh: []string{"pam-user-readenv"},
			want:     []check{{id: "pam-user-readenv", contains: "pam_env.so envfile=/etc/default/locale`"}},
			exit:     1,
		},
		{
			name:     "tcp forwarding",
			spec:     dropin("DisableForwarding yes", "DisableForwarding no\nAllowStreamLocalForwarding no"),
			wantHigh: []string{"tcp-forwarding"},
			want:     []check{{id: "tcp-forwarding", contains: "DisableForwarding yes"}},
			exit:     1,
		},
		{
			name:     "local forwarding only",
			spec:     dropin("DisableForwarding yes", "DisableForwarding no\nAllowStreamLocalForwarding no\nPermitListen none"),
			wantHigh: []string{"tcp-forwarding"},
			want:     []check{{id: "tcp-forwarding", contains: "ssh -L"}},
			exit:     1,
		},
		{
			name:     "remote forwarding with gateway ports",
			spec:     dropin("DisableForwarding yes", "DisableForwarding no\nAllowStreamLocalForwarding no\nAllowTcpForwarding remote\nGatewayPorts yes"),
			wantHigh: []string{"tcp-forwarding"},
			want:     []check{{id: "gateway-ports"}, {id: "tcp-forwarding", contains: "ssh -R"}},
			exit:     1,
		},
		{
			name:     "unix socket forwarding",
			spec:     dropin("DisableForwarding yes", "DisableForwarding no\nAllowTcpForwarding no"),
			wantHigh: []string{"streamlocal-forwarding"},
			exit:     1,
		},
		{
			name: "agent forwarding",
			spec: dropin("DisableForwarding yes", noDisable, "AllowAgentForwarding no", "AllowAgentForwarding yes"),
			want: []check{{id: "agent-forwarding"}},
			only: true,
		},
		{
			name: "x11 forwarding",
			spec: dropin("DisableForwarding yes", noDisable, "X11Forwarding no", "X11Forwarding yes"),
			want: []check{{id: "x11-forwarding"}},
			only: true,
		},
		{
			// sshd -T prints allowtcpforwarding yes and the rest; they do
			// not apply under DisableForwarding yes.
			name: "disableforwarding overrides an earlier file",
			spec: func(t *testing.T) hostSpec {
				return hostSpec{dropins: map[string]string{
					"00-aaa.conf":       "AllowTcpForwarding yes\nAllowStreamLocalForwarding yes\nAllowAgentForwarding yes\nX11Forwarding yes\n",
					"00-logingate.conf": hardened(t)}, pam: hardenedPAM(t)}
			},
			only: true,
		},
		{
			name:     "tunnel",
			spec:     dropin("PermitTunnel no", "PermitTunnel point-to-point"),
			wantHigh: []string{"tunnel"},
			want:     []check{{id: "tunnel", contains: "PermitTunnel no"}},
			exit:     1,
		},
		{
			name:     "user rc",
			spec:     dropin("PermitUserRC no", "PermitUserRC yes"),
			wantHigh: []string{"user-rc"},
			exit:     1,
		},
		{
			name:     "user environment",
			spec:     dropin("PermitUserEnvironment no", "PermitUserEnvironment yes"),
			wantHigh: []string{"user-environment"},
			exit:     1,
		},
		{
			name:     "acceptenv star",
			spec:     dropin("AcceptEnv LANG LC_*", "AcceptEnv *"),
			wantHigh: []string{"acceptenv"},
			want:     []check{{id: "acceptenv", contains: "`AcceptEnv *`"}},
			exit:     1,
		},
		{
			name:     "acceptenv LD_",
			spec:     dropin("AcceptEnv LANG LC_*", "AcceptEnv LANG LC_* LD_*"),
			wantHigh: []string{"acceptenv"},
			want:     []check{{id: "acceptenv", contains: "LD_PRELOAD"}},
			exit:     1,
		},
		{
			name: "acceptenv passcodes allowed",
			spec: dropin("#AcceptEnv LOGINGATE_PASSCODE", "AcceptEnv LOGINGATE_PASSCODE DUO_PASSCODE"),
			only: true,
		},
		{
			name: "acceptenv harmless extra",
			spec: dropin("AcceptEnv LANG LC_*", "AcceptEnv LANG LC_* TZ"),
			want: []check{{id: "acceptenv", contains: "TZ"}},
			only: true,
		},
		{
			// sshd sets these after the client's environment: accepting
			// them lets nothing in (TestSSHDOverridesClientEnv).
			name: "acceptenv names sshd sets itself",
			spec: dropin("AcceptEnv LANG LC_*", "AcceptEnv LANG LC_* PATH HOME SHELL USER LOGNAME SSH_CONNECTION SSH_CLIENT SSH_USER_AUTH"),
			only: true,
		},
		{
			// Without ExposeAuthInfo, sshd leaves a client's SSH_USER_AUTH.
			name:     "acceptenv SSH_USER_AUTH without exposeauthinfo",
			spec:     dropin("AcceptEnv LANG LC_*", "AcceptEnv LANG LC_* SSH_USER_AUTH", "ExposeAuthInfo yes", "ExposeAuthInfo no"),
			wantHigh: []string{"acceptenv"},
			want:     []check{{id: "acceptenv", contains: "SSH_USER_AUTH"}, {id: "exposeauthinfo"}},
			exit:     1,
		},
		{
			// sshd sets SSH_ORIGINAL_COMMAND only when there is a command.
			name:     "acceptenv SSH_ORIGINAL_COMMAND",
			spec:     dropin("AcceptEnv LANG LC_*", "AcceptEnv LANG LC_* PATH SSH_ORIGINAL_COMMAND"),
			wantHigh: []string{"acceptenv"},
			want:     []check{{id: "acceptenv", contains: "SSH_ORIGINAL_COMMAND"}},
			exit:     1,
		},
		{
			name:     "setenv LD_PRELOAD anyone can create",
			spec:     dropin("PermitUserRC no", "PermitUserRC no\nSetEnv LD_PRELOAD=/tmp/logingate-doctor-nosuch.so LANG=C"),
			wantHigh: []string{"setenv"},
			want:     []check{{id: "setenv", contains: "/tmp is writable by group or others"}, {id: "setenv", contains: "to `SetEnv LANG=C`"}},
			exit:     1,
		},
		{
			name:     "setenv BASH_ENV in a user-writable directory",
			spec:     hardenedSpec,
			setup:    func(t *testing.T, h *testHost) { userDir(t, h, "SetEnv BASH_ENV=%s/env") },
			wantHigh: []string{"setenv"},
			want:     []check{{id: "setenv", contains: "owned by uid 65534"}},
			exit:     1,
		},
		{
			name:     "setenv BASH_ENV the shell expands",
			spec:     dropin("PermitUserRC no", "PermitUserRC no\nSetEnv BASH_ENV=$HOME/.env"),
			wantHigh: []string{"setenv"},
			want:     []check{{id: "setenv", contains: "expands"}},
			exit:     1,
		},
		{
			name:     "setenv LD_LIBRARY_PATH with an empty entry",
			spec:     dropin("PermitUserRC no", "PermitUserRC no\nSetEnv LD_LIBRARY_PATH=/usr/lib:"),
			wantHigh: []string{"setenv"},
			want:     []check{{id: "setenv", contains: "current directory"}},
			exit:     1,
		},
		{
			name:     "setenv PS4 with xtrace",
			spec:     dropin("PermitUserRC no", "PermitUserRC no\nSetEnv SHELLOPTS=xtrace \"PS4=$(cat ~/.x)\""),
			wantHigh: []string{"setenv"},
			want:     []check{{id: "setenv", contains: "PS4"}},
			exit:     1,
		},
		{
			name: "setenv of files only root can write",
			spec: dropin("PermitUserRC no", "PermitUserRC no\nSetEnv LD_LIBRARY_PATH=/usr/lib:/lib BASH_ENV=/etc/bash.bashrc ZDOTDIR=/etc/zsh PS4=+ TZ=UTC"),
			only: true,
		},
		{
			name:     "setenv in a match block",
			spec:     withTail("Match User bob\n\tSetEnv ENV=/tmp/logingate-doctor-nosuch\n"),
			wantHigh: []string{"setenv"},
			want:     []check{{id: "setenv", context: "user=bob", notCtx: "every connection", contains: "Match User bob"}},
			exit:     1,
		},
		{
			name: "exposeauthinfo off",
			spec: dropin("ExposeAuthInfo yes", "ExposeAuthInfo no"),
			want: []check{{id: "exposeauthinfo"}},
			only: true,
		},
		{
			name:     "no forcecommand",
			spec:     dropin("ForceCommand "+installedGate, ""),
			wantHigh: []string{"forcecommand-missing"},
			want:     []check{{id: "forcecommand-missing", context: "every connection", contains: "00-logingate.conf"}},
			exit:     1,
		},
		{
			name: "forcecommand shadowed by an earlier include",
			spec: func(t *testing.T) hostSpec {
				return hostSpec{dropins: map[string]string{
					"00-aaa.conf":       "ForceCommand /usr/bin/true\n",
					"00-logingate.conf": hardened(t)}, pam: hardenedPAM(t)}
			},
			wantHigh: []string{"forcecommand-other"},
			want:     []check{{id: "forcecommand-other", contains: "00-aaa.conf:1"}, {id: "forcecommand-other", contains: "shadowed"}},
			exit:     1,
		},
		{
			name:     "forcecommand runs a shell when the gate fails",
			spec:     dropin("ForceCommand "+installedGate, "ForceCommand "+installedGate+" || exec /bin/bash -l"),
			wantHigh: []string{"forcecommand-chained"},
			want:     []check{{id: "forcecommand-chained", contains: "`||`"}, {id: "forcecommand-chained", contains: "to `ForceCommand /"}},
			exit:     1,
		},
		{
			name:     "forcecommand gate then a shell",
			spec:     dropin("ForceCommand "+installedGate, "ForceCommand "+installedGate+"; /bin/bash"),
			wantHigh: []string{"forcecommand-chained"},
			exit:     1,
		},
		{
			name:     "forcecommand gate with a command substitution",
			spec:     dropin("ForceCommand "+installedGate, "ForceCommand "+installedGate+` -c "$(cat ~/.lg)"`),
			wantHigh: []string{"forcecommand-chained"},
			want:     []check{{id: "forcecommand-chained", contains: "`$(`"}},
			exit:     1,
		},
		{
			name:     "forcecommand flags the gate refuses",
			spec:     dropin("ForceCommand "+installedGate, "ForceCommand "+installedGate+" --config=/etc/logingate/logingate.yaml"),
			wantHigh: []string{"forcecommand-args"},
			want:     []check{{id: "forcecommand-args", contains: "unknown flag --config="}},
			exit:     1,
		},
		{
			// (--config names the test's config, so -c is not read.)
			name: "forcecommand with quoted operators is one command",
			spec: dropin("ForceCommand "+installedGate, "ForceCommand "+installedGate+` -c '/etc/a;b|c' -- "x&&y"`),
			only: true,
		},
		{
			name: "forcecommand names a wrapper script",
			spec: hardenedSpec,
			setup: func(t *testing.T, h *testHost) {
				wrap := filepath.Join(h.dir, "sbin", "logingate")
				mkdir(t, filepath.Dir(wrap), 0o755)
				writeFile(t, wrap, "#!/bin/sh\n"+h.binary+" \"$@\" || exec /bin/bash -l\n", 0o755)
				setForceCommand(t, h, "ForceCommand "+wrap)
			},
			wantHigh: []string{"forcecommand-wrapper"},
			want:     []check{{id: "forcecommand-wrapper", contains: "a script"}},
			exit:     1,
		},
		{
			name: "forcecommand binary anyone can create",
			spec: hardenedSpec,
			setup: func(t *testing.T, h *testHost) {
				pub := filepath.Join(h.dir, "pub")
				mkdir(t, pub, 0o1777)
				setForceCommand(t, h, "ForceCommand "+filepath.Join(pub, "logingate"))
			},
			wantHigh: []string{"binary-plantable"},
			want:     []check{{id: "binary-plantable", contains: "pub is writable by group or others (mode 1777)"}},
			exit:     1,
		},
		{
			name: "forcecommand binary missing where only root writes",
			spec: hardenedSpec,
			setup: func(t *testing.T, h *testHost) {
				setForceCommand(t, h, "ForceCommand "+filepath.Join(h.dir, "nosuch", "logingate"))
			},
			want: []check{{id: "binary-missing"}, {id: "state-dir"}},
			only: true,
		},
		{
			name:     "match clears forcecommand",
			spec:     withTail("Match User bob\n\tForceCommand none\n"),
			wantHigh: []string{"forcecommand-missing"},
			want: []check{{id: "forcecommand-missing", context: "user=bob", notCtx: "every connection"},
				{id: "forcecommand-missing", contains: "Match User bob"}},
			exit: 1,
		},
		{
			name: "match allows tcp forwarding under disableforwarding",
			spec: withTail("Match User bob\n\tAllowTcpForwarding yes\n"),
			only: true,
		},
		{
			name: "match allows tcp forwarding",
			spec: func(t *testing.T) hostSpec {
				return hostSpec{dropins: map[string]string{"00-logingate.conf": hardened(t, "DisableForwarding yes", noDisable)},
					pam: hardenedPAM(t), tail: "Match User bob\n\tAllowTcpForwarding yes\n"}
			},
			wantHigh: []string{"tcp-forwarding"},
			want: []check{{id: "tcp-forwarding", context: "user=bob", notCtx: "every connection"},
				{id: "tcp-forwarding", contains: "`AllowTcpForwarding yes`"}},
			exit: 1,
		},
		{
			name:     "match address",
			spec:     withTail("Match Address 10.0.0.0/8,!10.9.9.9\n\tPermitUserRC yes\n"),
			wantHigh: []string{"user-rc"},
			want:     []check{{id: "user-rc", context: "addr=10.0.0.1", notCtx: "every connection"}},
			exit:     1,
		},
		{
			// The first address of 10/8 is the one refused: doctor
			// probes another.
			name:     "match address whose negation refuses the first address",
			spec:     withTail("Match Address 10.0.0.0/8,!10.0.0.1\n\tForceCommand none\n"),
			wantHigh: []string{"forcecommand-missing"},
			want:     []check{{id: "forcecommand-missing", context: "addr=10.0.0.2", notCtx: "every connection"}},
			exit:     1,
		},
		{
			name:     "match address whose negation refuses half the block",
			spec:     withTail("Match Address 192.0.2.0/24,!192.0.2.0/25\n\tPermitTunnel yes\n"),
			wantHigh: []string{"tunnel"},
			want:     []check{{id: "tunnel", context: "addr=192.0.2.128", notCtx: "every connection"}},
			exit:     1,
		},
		{
			// No account matches svc-*, and the name doctor used to make
			// up (svc-x) is the one refused.
			name:     "match user whose negation refuses the made-up name",
			spec:     withTail("Match User svc-*,!svc-x\n\tForceCommand none\n"),
			wantHigh: []string{"forcecommand-missing"},
			want:     []check{{id: "forcecommand-missing", context: "user=svc-", notCtx: "every connection"}},
			exit:     1,
		},
		{
			// sshd matches a list of negations alone for nobody: the
			// probes of root and the ordinary user show it.
			name: "match user of negations alone",
			spec: withTail("Match User !root\n\tForceCommand none\n"),
			want: []check{{id: "match-never", contains: "Match User !root"}},
			only: true,
		},
		{
			name:     "match group without members",
			spec:     withTail("Match Group logingate-doctor-nosuchgroup\n\tForceCommand none\n"),
			wantHigh: []string{"forcecommand-missing"},
			want:     []check{{id: "forcecommand-missing", context: "members of group logingate-doctor-nosuchgroup", notCtx: "every connection"}},
			exit:     1,
		},
		{
			// Plain sshd -T refuses a Match LocalPort; probes still work.
			name:     "match localport",
			spec:     withTail("Match LocalPort 2222\n\tPermitTunnel yes\n"),
			wantHigh: []string{"tunnel"},
			want:     []check{{id: "tunnel", context: "lport=2222"}, {id: "default-context"}},
			exit:     1,
		},
		{
			name:     "binary writable by others",
			spec:     hardenedSpec,
			setup:    func(t *testing.T, h *testHost) { chmod(t, h.binary, 0o777|os.ModeSetgid) },
			wantHigh: []string{"binary-perms"},
			want:     []check{{id: "binary-perms", contains: "chmod go-w"}},
			exit:     1,
		},
		{
			name: "binary not root's",
			spec: hardenedSpec,
			setup: func(t *testing.T, h *testHost) {
				chown(t, h.binary, 65534) // clears the setgid bit: set it again
				chmod(t, h.binary, 0o755|os.ModeSetgid)
			},
			wantHigh: []string{"binary-perms"},
			want:     []check{{id: "binary-perms", contains: "chown root:root"}},
			exit:     1,
		},
		{
			name:     "config directory writable by others",
			spec:     hardenedSpec,
			setup:    func(t *testing.T, h *testHost) { chmod(t, filepath.Dir(h.lgConfig), 0o777) },
			wantHigh: []string{"config-perms"},
			exit:     1,
		},
		{
			name:     "config does not load",
			spec:     hardenedSpec,
			setup:    func(t *testing.T, h *testHost) { writeFile(t, h.lgConfig, "bogus: 1\n", 0o644) },
			wantHigh: []string{"config"},
			want:     []check{{id: "config", contains: "bogus"}},
			exit:     1,
		},
		{
			// login_duo's file as its package leaves it: 600 for its
			// privsep user. Root can read it; the gate cannot.
			name:     "login_duo.conf the gate cannot read",
			spec:     hardenedSpec,
			setup:    func(t *testing.T, h *testHost) { writeFile(t, h.lgConfig, "state_dir: "+h.state+"\n", 0o600) },
			wantHigh: []string{"config-unreadable"},
			want:     []check{{id: "config-unreadable", contains: "chmod 640"}},
			exit:     1,
		},
		{
			// A RADIUS shared secret left root:root 0600: Load, as root,
			// reads it; the gate, as the user with logingate's group,
			// cannot.
			name: "RADIUS secret the gate cannot read",
			spec: hardenedSpec,
			setup: func(t *testing.T, h *testHost) {
				secret := filepath.Join(filepath.Dir(h.lgConfig), "radius.secret")
				writeFile(t, secret, "s3cret\n", 0o600)
				writeFile(t, h.lgConfig, "state_dir: "+h.state+"\nradius: {servers: [{address: \"127.0.0.1:1812\", secret_file: "+secret+"}]}\n", 0o644)
			},
			wantHigh: []string{"config-unreadable"},
			want:     []check{{id: "config-unreadable", contains: "radius.secret"}},
			exit:     1,
		},
		{
			// The shared store's DSN and key files, both root:root 0600:
			// one finding each.
			name: "store files the gate cannot read",
			spec: hardenedSpec,
			setup: func(t *testing.T, h *testHost) {
				etc := filepath.Dir(h.lgConfig)
				dsn, keys := filepath.Join(etc, "store.dsn"), filepath.Join(etc, "store.keys")
				writeFile(t, dsn, "host=127.0.0.1 dbname=logingate user=logingate\n", 0o600)
				writeFile(t, keys, "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n", 0o600)
				writeFile(t, h.lgConfig, "state_dir: "+h.state+"\nstore: {backend: postgres, dsn_file: "+dsn+", key_file: "+keys+"}\n", 0o644)
			},
			wantHigh: []string{"config-unreadable", "config-unreadable"},
			want:     []check{{id: "config-unreadable", contains: "store.dsn"}, {id: "config-unreadable", contains: "store.keys"}},
			exit:     1,
		},
		{
			name:     "protected state directory open to others",
			spec:     hardenedSpec,
			setup:    func(t *testing.T, h *testHost) { chmod(t, h.state, 0o777) },
			wantHigh: []string{"state-dir"},
			want:     []check{{id: "state-dir", contains: "logingate migrate"}},
			exit:     1,
		},
		{
			// A host key doctor cannot load: it makes its own and goes on.
			name: "no readable host key",
			spec: func(t *testing.T) hostSpec {
				s := hardenedSpec(t)
				s.hostKey = "/nonexistent/logingate-doctor-key"
				return s
			},
			only: true,
		},
	}
	if g := primaryGroupOf("nobody"); g != "" {
		cases = append(cases, struct {
			name     string
			spec     func(t *testing.T) hostSpec
			setup    func(t *testing.T, h *testHost)
			wantHigh []string
			want     []check
			only     bool
			exit     int
		}{
			name:     "match group with a member",
			spec:     withTail("Match Group " + g + "\n\tPermitTunnel yes\n"),
			wantHigh: []string{"tunnel"},
			want:     []check{{id: "tunnel", notCtx: "every connection"}},
			exit:     1,
		})
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newTestHost(t, tc.spec(t))
			if tc.setup != nil {
				tc.setup(t, h)
			}
			rep, code, stderr := doctorJSON(t, h)
			t.Logf("findings: %v", ids(rep, ""))
			if code != tc.exit {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tc.exit, stderr)
			}
			high := ids(rep, sevHigh)
			slices.Sort(high)
			want := slices.Clone(tc.wantHigh)
			slices.Sort(want)
			if !slices.Equal(high, want) {
				t.Errorf("high findings %v, want exactly %v", high, want)
			}
			if rep.Summary.Pass != (len(want) == 0) || rep.Summary.High != len(high) {
				t.Errorf("summary %+v does not match %d high findings", rep.Summary, len(high))
			}
			for _, c := range tc.want {
				fs := find(rep, c.id)
				if len(fs) == 0 {
					t.Errorf("no %s finding", c.id)
					continue
				}
				ok := false
				for _, f := range fs {
					if strings.Contains(f.Context, c.context) && (c.notCtx == "" || !strings.Contains(f.Context, c.notCtx)) &&
						strings.Contains(f.Problem+"\n"+f.Fix, c.contains) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s finding does not have context %q (not %q) and %q: %+v", c.id, c.context, c.notCtx, c.contains, fs)
				}
			}
			if tc.only {
				allowed := map[string]bool{}
				for _, c := range tc.want {
					allowed[c.id] = true
				}
				for _, f := range rep.Findings {
					if f.Severity != sevInfo && !allowed[f.ID] {
						t.Errorf("unexpected %s finding %s: %s", f.Severity, f.ID, f.Problem)
					}
				}
			}
			for _, f := range rep.Findings {
				if f.ID == "" || f.Setting == "" || f.Context == "" || f.Problem == "" || f.Attack == "" || f.Fix == "" {
					t.Errorf("finding with an empty field: %+v", f)
				}
			}
		})
	}
}

// setForceCommand replaces the drop-in's ForceCommand line.
func setForceCommand(t *testing.T, h *testHost, line string) {
	t.Helper()
	dropin := filepath.Join(h.dropins, "00-logingate.conf")
	b, err := os.ReadFile(dropin)
	if err != nil {
		t.Fatal(err)
	}
	fc := "ForceCommand " + h.binary + "\n"
	if !strings.Contains(string(b), fc) {
		t.Fatalf("drop-in has no %q", fc)
	}
	writeFile(t, dropin, strings.Replace(string(b), fc, line+"\n", 1), 0o644)
}

// userDir makes a directory an ordinary user (nobody) owns and appends
// format, with %s the directory, to the drop-in.
func userDir(t *testing.T, h *testHost, format string) {
	t.Helper()
	dir := filepath.Join(h.dir, "home-nobody")
	mkdir(t, dir, 0o755)
	chown(t, dir, 65534)
	dropin := filepath.Join(h.dropins, "00-logingate.conf")
	b, err := os.ReadFile(dropin)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dropin, string(b)+fmt.Sprintf(format, dir)+"\n", 0o644)
}

func dropin(edits ...string) func(t *testing.T) hostSpec {
	return func(t *testing.T) hostSpec {
		return hostSpec{dropins: map[string]string{"00-logingate.conf": hardened(t, edits...)}, pam: hardenedPAM(t)}
	}
}

func withTail(tail string) func(t *testing.T) hostSpec {
	return func(t *testing.T) hostSpec {
		s := hardenedSpec(t)
		s.tail = tail
		return s
	}
}

func hardenedSpec(t *testing.T) hostSpec {
	return hostSpec{dropins: map[string]string{"00-logingate.conf": hardened(t)}, pam: hardenedPAM(t)}
}

// primaryGroupOf returns the name of a user's primary group, or "".
func primaryGroupOf(name string) string {
	u, err := user.Lookup(name)
	if err != nil {
		return ""
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return ""
	}
	return g.Name
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Chown(path, uid, -1); err != nil {
		t.Fatal(err)
	}
}

// TestTextReport: the human report groups by severity and ends with the
// summary line.
func TestTextReport(t *testing.T) {
	h := newTestHost(t, hostSpec{})
	var out, errb bytes.Buffer
	code := Main(h.args(), &out, &errb)
	if code != 1 {
		t.Fatalf("exit status %d on Debian's default, want 1; stderr %q", code, errb.String())
	}
	s := out.String()
	hi, med := strings.Index(s, "\nHIGH\n"), strings.Index(s, "\nMEDIUM\n")
	if hi < 0 || med < 0 || hi > med {
		t.Errorf("no HIGH then MEDIUM section:\n%s", s)
	}
	for _, w := range []string{"[forcecommand-missing]", "    fix:     add `ForceCommand " + h.binary + "`", "FAIL"} {
		if !strings.Contains(s, w) {
			t.Errorf("report lacks %q:\n%s", w, s)
		}
	}
	last := s[strings.LastIndex(strings.TrimRight(s, "\n"), "\n")+1:]
	if !strings.HasPrefix(last, "summary: 5 high, 3 medium, 0 low, ") {
		t.Errorf("summary line %q", last)
	}
	if errb.Len() != 0 {
		t.Errorf("stderr %q", errb.String())
	}

	h = newTestHost(t, hardenedSpec(t))
	out.Reset()
	if code := Main(h.args(), &out, &errb); code != 0 {
		t.Fatalf("exit status %d on the hardened host:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "summary: 0 high, 0 medium, 0 low, 1 info: pass") {
		t.Errorf("hardened report:\n%s", out.String())
	}
}

// TestExtraUsersAndAddresses: --user and --addr add connections to check.
func TestExtraUsersAndAddresses(t *testing.T) {
	h := newTestHost(t, withTail("Match User carol Address 192.0.2.0/24\n\tPermitUserRC yes\n")(t))
	rep, code, _ := doctorJSON(t, h, "--user", "dave", "--addr", "198.51.100.7", "--addr", "2001:db8::1")
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	for _, w := range []string{"user=dave addr=198.51.100.7", "user=dave addr=2001:db8::1", "user=carol addr=192.0.2.1"} {
		if !slices.Contains(rep.Summary.Contexts, w) {
			t.Errorf("context %q not checked: %q", w, rep.Summary.Contexts)
		}
	}
	fs := find(rep, "user-rc")
	if len(fs) != 1 || fs[0].Context != "user=carol addr=192.0.2.1" {
		t.Errorf("user-rc findings %+v, want one for carol from 192.0.2.1 only", fs)
	}
}

// TestCannotRun: doctor exits 2 and says why when sshd -T cannot run.
func TestCannotRun(t *testing.T) {
	cases := []struct {
		name string
		args func(h *testHost) []string
		spec hostSpec
		want []string
	}{
		{"no sshd", func(h *testHost) []string { return append(h.args(), "--sshd", filepath.Join(h.dir, "nosshd")) }, hostSpec{},
			[]string{"logingate: error: cannot run " + "", "logingate: hint: install openssh-server"}},
		{"bad sshd config", func(h *testHost) []string { return h.args() }, hostSpec{dropins: map[string]string{"00-bad.conf": "Bogus yes\n"}},
			[]string{"logingate: error: ", "Bogus", "logingate: hint: run sshd -t -f "}},
		{"no sshd config", func(h *testHost) []string { return append(h.args(), "-f", filepath.Join(h.dir, "none")) }, hostSpec{},
			[]string{"logingate: error: ", "No such file"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHost(t, tc.spec)
			var out, errb bytes.Buffer
			if code := Main(tc.args(h), &out, &errb); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q: %q", w, errb.String())
				}
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q", out.String())
			}
		})
	}
}

// TestUsage: flag mistakes exit 2 with the usage; --help exits 0.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"}, {"extra"}, {"--addr", "banana"}, {"--user", "a,b"}, {"--user", ""}, {"-f"}, {"--sshd", ""},
	} {
		var out, errb bytes.Buffer
		if code := Main(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit status %d, want 2", args, code)
		}
		if !strings.HasPrefix(errb.String(), "logingate: error: ") || !strings.Contains(errb.String(), "usage: logingate doctor") {
			t.Errorf("%q: stderr %q", args, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "usage: logingate doctor") {
		t.Errorf("--help: exit %d, stdout %q", code, out.String())
	}
}

// TestConfigFromForceCommand: without --config, doctor checks the config
// the ForceCommand's -c names, as the gate will read it.
func TestConfigFromForceCommand(t *testing.T) {
	h := newTestHost(t, hardenedSpec(t))
	alt := filepath.Join(h.dir, "etc", "other.yaml")
	writeFile(t, alt, "bogus: 1\n", 0o644)
	dropin := filepath.Join(h.dropins, "00-logingate.conf")
	b, err := os.ReadFile(dropin)
	if err != nil {
		t.Fatal(err)
	}
	fc := "ForceCommand " + h.binary
	writeFile(t, dropin, strings.Replace(string(b), fc+"\n", fc+" -c "+alt+"\n", 1), 0o644)

	var out, errb bytes.Buffer
	code := Main([]string{"--json", "--sshd", h.sshd, "-f", h.config, "--pam", h.pam, "--binary", h.binary}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit status %d, want 1; stderr %q", code, errb.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	fs := find(&rep, "config")
	if len(fs) != 1 || fs[0].Setting != "config "+alt+" (ForceCommand -c)" || !strings.Contains(fs[0].Problem, "bogus") {
		t.Errorf("config findings %+v, want one for %s", fs, alt)
	}
}

// TestJSONShape: the keys automation relies on.
func TestJSONShape(t *testing.T) {
	h := newTestHost(t, hostSpec{})
	var out, errb bytes.Buffer
	Main(append(h.args(), "--json"), &out, &errb)
	var doc struct {
		Findings []map[string]any `json:"findings"`
		Summary  map[string]any   `json:"summary"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Findings) == 0 {
		t.Fatal("no findings on Debian's default")
	}
	for _, f := range doc.Findings {
		keys := slices.Sorted(maps.Keys(f))
		if !slices.Equal(keys, []string{"attack", "context", "fix", "id", "problem", "setting", "severity"}) {
			t.Errorf("finding keys %q", keys)
		}
		if sev := f["severity"]; sev != "high" && sev != "medium" && sev != "low" && sev != "info" {
			t.Errorf("severity %v", sev)
		}
	}
	keys := slices.Sorted(maps.Keys(doc.Summary))
	if !slices.Equal(keys, []string{"contexts", "high", "info", "low", "medium", "pass"}) {
		t.Errorf("summary keys %q", keys)
	}
	if doc.Summary["pass"] != false || doc.Summary["high"] != float64(5) {
		t.Errorf("summary %v", doc.Summary)
	}
}
