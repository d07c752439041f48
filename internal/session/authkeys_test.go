package session

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
)

// Keys made with ssh-keygen, and the fingerprints ssh-keygen -l printed.
const (
	edType = "ssh-ed25519"
	edB64  = "AAAAC3NzaC1lZDI1NTE5AAAAIEZF1VMOVmO77wrRcHFrz0QSV8loJZ3OWfmChip/sUoH"
	edFP   = "SHA256:7M4czvxODDXAiJMo9a2mT0/uvN1Mva+uOcaH6DnpOaw"
	ecType = "ecdsa-sha2-nistp256"
	ecB64  = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBE+EapfrYPWtgoEcJF1bYT6HgTc/apgBroCKFsw7cNvXSllX3Lp7xv0XabcLGtY5w+kWhMaKQHsIPDUAyk7sDeA="
	ecFP   = "SHA256:q1NBPBeh3sJlQsGmq6U2F8gB1AVTzauuy73BPwhiies"
	// The ed25519 key above, certified by the ECDSA key (ssh-keygen -s).
	certType = "ssh-ed25519-cert-v01@openssh.com"
	certB64  = "AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIMsOQNMmQl37zXndY073NnCU+QL5xTpm8NJ7CYw32zwTAAAAIEZF1VMOVmO77wrRcHFrz0QSV8loJZ3OWfmChip/sUoHAAAAAAAAAAAAAAABAAAACHRlc3RjZXJ0AAAACQAAAAVhbGljZQAAAAAAAAAA//////////8AAAAAAAAAggAAABVwZXJtaXQtWDExLWZvcndhcmRpbmcAAAAAAAAAF3Blcm1pdC1hZ2VudC1mb3J3YXJkaW5nAAAAAAAAABZwZXJtaXQtcG9ydC1mb3J3YXJkaW5nAAAAAAAAAApwZXJtaXQtcHR5AAAAAAAAAA5wZXJtaXQtdXNlci1yYwAAAAAAAAAAAAAAaAAAABNlY2RzYS1zaGEyLW5pc3RwMjU2AAAACG5pc3RwMjU2AAAAQQRPhGqX62D1rYKBHCRdW2E+h4E3P2qYAa6AihbMO3Db10pZV9y6e8b9F2m3CxrWOcPpFoTGikB7CDw1AMpO7A3gAAAAZQAAABNlY2RzYS1zaGEyLW5pc3RwMjU2AAAASgAAACEAth/E90Ss6tcem71/+opPKfGj/NuftNu9gJ+yY3y4AQ4AAAAhAOJt7O9zUHn+/G6Mj3Y+R+rjBoeGkqCYJJ60YjJ9sGpN"
)

// skB64 is a security-key ed25519 public key blob (no hardware needed to
// write one down): type, 32-byte key, application.
var skB64 = func() string {
	var b []byte
	put := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	put("sk-ssh-ed25519@openssh.com")
	put(strings.Repeat("k", 32))
	put("ssh:")
	return base64.StdEncoding.EncodeToString(b)
}()

func decode(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseAuthorizedKeyLine(t *testing.T) {
	ed := edType + " " + edB64
	for _, tc := range []struct {
		name    string
		line    string
		nothing bool   // blank or comment
		err     string // part of the error
		typ     string
		blob    string
		comment string
		command string
		hasCmd  bool
		ca      bool
		opts    []string // option names in order
	}{
		{name: "blank", line: "", nothing: true},
		{name: "spaces", line: " \t \r", nothing: true},
		{name: "comment", line: "# " + ed, nothing: true},
		{name: "indented comment", line: "   #command=\"x\" " + ed, nothing: true},

		{name: "plain", line: ed, typ: edType, blob: edB64},
		{name: "comment after key", line: ed + " alice@laptop  (work) ", typ: edType, blob: edB64, comment: "alice@laptop  (work) "},
		{name: "leading space and tabs", line: " \t" + edType + "\t\t" + edB64 + "\tc", typ: edType, blob: edB64, comment: "c"},
		{name: "crlf", line: ed + " c\r\n", typ: edType, blob: edB64, comment: "c"},
		{name: "ecdsa", line: ecType + " " + ecB64, typ: ecType, blob: ecB64},
		{name: "security key", line: "sk-ssh-ed25519@openssh.com " + skB64 + " yubi", typ: "sk-ssh-ed25519@openssh.com", blob: skB64, comment: "yubi"},
		{name: "short type name", line: "ED25519 " + edB64, typ: "ED25519", blob: edB64},
		{name: "certificate", line: certType + " " + certB64, typ: certType, blob: certB64},

		{name: "command", line: `command="echo hi" ` + ed, typ: edType, blob: edB64, command: "echo hi", hasCmd: true, opts: []string{"command"}},
		{name: "command with escaped quotes and backslashes",
			line: `command="printf \"%s\\n\" \"a b\"",no-pty ` + ed + " backup",
			typ:  edType, blob: edB64, comment: "backup", command: `printf "%s\\n" "a b"`, hasCmd: true, opts: []string{"command", "no-pty"}},
		{name: "command with comma and space", line: `restrict,command="rsync --server -e.Lsfx . /srv/backup, ok" ` + ed,
			typ: edType, blob: edB64, command: "rsync --server -e.Lsfx . /srv/backup, ok", hasCmd: true, opts: []string{"restrict", "command"}},
		{name: "empty command", line: `command="" ` + ed, typ: edType, blob: edB64, command: "", hasCmd: true, opts: []string{"command"}},
		{name: "option names in any case", line: `COMMAND="x",No-Agent-Forwarding ` + ed, typ: edType, blob: edB64, command: "x", hasCmd: true, opts: []string{"command", "no-agent-forwarding"}},
		{name: "every flag", line: "restrict,port-forwarding,no-port-forwarding,agent-forwarding,x11-forwarding,no-x11-forwarding,pty,no-pty,user-rc,no-user-rc,no-touch-required,verify-required " + ed,
			typ: edType, blob: edB64, opts: strings.Split("restrict,port-forwarding,no-port-forwarding,agent-forwarding,x11-forwarding,no-x11-forwarding,pty,no-pty,user-rc,no-user-rc,no-touch-required,verify-required", ",")},
		{name: "value options", line: `from="10.0.0.0/8,!10.1.*",environment="A=1",environment="B=2",permitopen="h:22",permitlisten="8080",principals="a,b",expiry-time="20300101",tunnel="0" ` + ed,
			typ: edType, blob: edB64, opts: []string{"from", "environment", "environment", "permitopen", "permitlisten", "principals", "expiry-time", "tunnel"}},
		{name: "cert-authority", line: `cert-authority,principals="alice" ` + ecType + " " + ecB64, typ: ecType, blob: ecB64, ca: true, opts: []string{"cert-authority", "principals"}},
		{name: "a quote opened outside a value", line: `from="a b",command="c" ` + ed, typ: edType, blob: edB64, command: "c", hasCmd: true, opts: []string{"from", "command"}},

		{name: "unknown option", line: "no-shell " + ed, err: "option 1: unknown option"},
		{name: "flag with a value", line: `no-pty="yes" ` + ed, err: "option 1: unknown option, or one that takes no value"},
		{name: "negated restrict", line: "no-restrict " + ed, err: "option 1: unknown option"},
		{name: "command without value", line: "command " + ed, err: "option 1 (command): needs a quoted value"},
		{name: "unquoted command", line: "command=true " + ed, err: "value must start with a quote"},
		{name: "two commands", line: `command="a",command="b" ` + ed, err: "option 2: command given twice"},
		{name: "unterminated quote", line: `command="echo hi ` + ed, err: "unterminated quoted value"},
		{name: "junk after a value", line: `command="a"x ` + ed, err: "option 1: unexpected characters after it"},
		{name: "trailing comma", line: "no-pty, " + ed, err: "options end with a comma"},
		{name: "empty option", line: "no-pty,,restrict " + ed, err: "option 2: unknown option"},
		{name: "options without a key", line: `command="x"`, err: "no known key type"},
		{name: "unknown key type", line: "ssh-foo " + edB64, err: "no known key type"},
		{name: "type without key", line: edType, err: "key type without a key"},
		{name: "bad base64", line: edType + " AAAA!!!", err: "not valid base64"},
		{name: "blob of another type", line: "ssh-rsa " + edB64, err: "blob's type differs"},
		{name: "short blob", line: edType + " AAAA", err: "key blob is malformed"},
		{name: "too long", line: strings.Repeat("a", maxKeyLine+1), err: "line longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := parseAuthorizedKeyLine(tc.line)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one with %q", err, tc.err)
				}
				if strings.Contains(err.Error(), edB64[20:40]) {
					t.Errorf("error quotes the line: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.nothing {
				if k != nil {
					t.Fatalf("got a key %+v from a blank or comment line", k)
				}
				return
			}
			if k == nil {
				t.Fatal("no key")
			}
			if k.Type != tc.typ || string(k.Blob) != string(decode(t, tc.blob)) || k.Comment != tc.comment {
				t.Errorf("key %q %q comment %q, want %q %q %q", k.Type, base64.StdEncoding.EncodeToString(k.Blob), k.Comment, tc.typ, tc.blob, tc.comment)
			}
			if k.Command != tc.command || k.HasCommand != tc.hasCmd || k.CertAuthority != tc.ca {
				t.Errorf("command %q (%v) ca %v, want %q (%v) %v", k.Command, k.HasCommand, k.CertAuthority, tc.command, tc.hasCmd, tc.ca)
			}
			var names []string
			for _, o := range k.Options {
				names = append(names, o.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.opts, ",") {
				t.Errorf("options %v, want %v", names, tc.opts)
			}
		})
	}
}

func TestParseAuthorizedKeysFile(t *testing.T) {
	data := strings.Join([]string{
		"# keys",
		edType + " " + edB64 + " laptop",
		"",
		`bogus-option ` + ecType + " " + ecB64,
		`command="backup" ` + ecType + " " + ecB64 + " backup",
		"not a key at all",
	}, "\n")
	keys, bad := parseAuthorizedKeys([]byte(data))
	if len(keys) != 2 || keys[0].Line != 2 || keys[1].Line != 5 || keys[1].Command != "backup" {
		t.Fatalf("keys %+v", keys)
	}
	if len(bad) != 2 || bad[0].Line != 4 || bad[1].Line != 6 {
		t.Fatalf("bad lines %v", bad)
	}
	if !bad[0].Mentions(decode(t, ecB64)) || bad[0].Mentions(decode(t, edB64)) || bad[1].Mentions(decode(t, ecB64)) {
		t.Errorf("Mentions is wrong")
	}
	if strings.Contains(bad[0].Error(), "bogus") {
		t.Errorf("a line error quotes the line: %v", bad[0])
	}
}

// FuzzParseAuthorizedKeyLine: the parser never panics, and a key it accepts
// carries a blob whose type it checked and a command only from a command
// option. Seeds are in testdata/fuzz/FuzzParseAuthorizedKeyLine.
func FuzzParseAuthorizedKeyLine(f *testing.F) {
	f.Fuzz(func(t *testing.T, line string) {
		k, err := parseAuthorizedKeyLine(line)
		if err != nil {
			if k != nil {
				t.Fatal("a key and an error")
			}
			return
		}
		if k == nil {
			return
		}
		if _, ok := blobType(k.Blob); !ok {
			t.Fatalf("accepted a malformed blob")
		}
		cmds := 0
		for _, o := range k.Options {
			if o.Name == "command" {
				cmds++
			}
		}
		if (cmds == 1) != k.HasCommand || cmds > 1 {
			t.Fatalf("HasCommand %v with %d command options", k.HasCommand, cmds)
		}
		if !k.HasCommand && k.Command != "" {
			t.Fatalf("a command without a command option")
		}
	})
}
