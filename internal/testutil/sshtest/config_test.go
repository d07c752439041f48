package sshtest

import (
	"slices"
	"strings"
	"testing"
)

func TestBuildConfig(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		want    []string // lines in this order (others may sit between)
		missing []string // lines that must not appear
	}{
		{
			name: "defaults",
			opts: Options{},
			want: []string{"ListenAddress 127.0.0.1", "Port 2222", "HostKey /k", "PidFile /p",
				"PasswordAuthentication no", "UsePAM yes", "ExposeAuthInfo yes",
				"Subsystem sftp " + SFTPServerPath, "MaxStartups 100"},
			missing: []string{"ForceCommand"},
		},
		{
			name: "force command before defaults",
			opts: Options{ForceCommand: "/g/logingate -c /g/c.yaml"},
			want: []string{"PidFile /p", "ForceCommand /g/logingate -c /g/c.yaml", "UsePAM yes"},
		},
		{
			name:    "extra overrides defaults, case-insensitively and with =",
			opts:    Options{ExtraConfig: []string{"passwordauthentication=yes", "Subsystem sftp internal-sftp"}},
			want:    []string{"passwordauthentication=yes", "Subsystem sftp internal-sftp", "UsePAM yes"},
			missing: []string{"PasswordAuthentication no", "Subsystem sftp " + SFTPServerPath},
		},
		{
			name: "match blocks go last and override nothing",
			opts: Options{ExtraConfig: []string{"AcceptEnv LANG", "Match User x", "\tUsePAM no"}},
			want: []string{"AcceptEnv LANG", "UsePAM yes", "MaxStartups 100", "Match User x", "\tUsePAM no"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := buildConfig(tt.opts, 2222, "/k", "/p")
			lines := strings.Split(got, "\n")
			last := -1
			for _, w := range tt.want {
				i := slices.Index(lines, w)
				if i < 0 || i < last {
					t.Errorf("line %q missing or out of order in:\n%s", w, got)
				}
				last = i
			}
			for _, m := range tt.missing {
				for _, l := range lines {
					if strings.HasPrefix(l, m) {
						t.Errorf("unexpected line %q in:\n%s", l, got)
					}
				}
			}
		})
	}
}

func TestLoginName(t *testing.T) {
	for label, wantSuffix := range map[string]string{"": "", "alice": "-alice", "Bob Smith!": "-bobsmi", "x/../y": "-xy"} {
		n := loginName(label)
		if len(n) > 16 || !strings.HasPrefix(n, "lgt") || !strings.HasSuffix(n, wantSuffix) || len(n) != 9+len(wantSuffix) {
			t.Errorf("loginName(%q) = %q", label, n)
		}
	}
	if a, b := loginName("a"), loginName("a"); a == b {
		t.Error("two login names alike")
	}
}
