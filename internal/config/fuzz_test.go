package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary bytes to Load. It must never panic, a config it
// accepts must validate and have usable groups, and every problem it reports
// must name the file. Seeds are in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "logingate.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path, testHost)
		if err != nil {
			if cfg != nil {
				t.Fatalf("config returned with error %v", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, path+": ") {
					t.Fatalf("problem does not name the file: %q", line)
				}
			}
			if len(problemList(err)) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			return
		}
		if cfg.Path != path {
			t.Fatalf("Path = %q", cfg.Path)
		}
		if err := cfg.check(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
	})
}

// FuzzLoginDuo feeds arbitrary bytes to the login_duo parser. It must never
// panic; every problem names the file; a secret key written in the file
// never appears in an error; and a file it accepts holds sensible values
// and round-trips: written back as a login_duo file, it parses to the same
// Config.
func FuzzLoginDuo(f *testing.F) {
	for _, s := range []string{
		"[duo]\n" + iniKeys3,
		iniKeys3 + "groups = users,!wheel *admin\n  ops\nfailmode = secure\nprompts = 9\nhttps_timeout = -1\n",
		iniKeys3 + "autopush = yes\npushinfo = on\naccept_env_factor = 1\nnoverify = true\nhttp_proxy = proxy:3128\n",
		"; c\n# c\n[x] y\n" + iniKeys3 + "send_gecos = no\ngecos_delim = /\n",
		"[duo\nikey\n  skey = x\n= y\nhost: z\n",
		"skey = ; x\r\n\ufeff\x00",
	} {
		f.Add([]byte(s))
	}
	const path = "/etc/duo/login_duo.conf"
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseLoginDuo(path, testHost, data)
		if err != nil {
			if cfg != nil {
				t.Fatalf("config returned with error %v", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, path+": ") {
					t.Fatalf("problem does not name the file: %q", line)
				}
			}
			if len(problemList(err)) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			for _, e := range scanINI(&problems{path: path}, data) {
				if e.key == "skey" && len(e.value) >= 8 && bytes.Count(data, []byte(e.value)) == 1 && strings.Contains(err.Error(), e.value) {
					t.Fatalf("error quotes the secret key: %v", err)
				}
			}
			return
		}
		d := cfg.Duo
		switch {
		case !cfg.DropIn || cfg.LocalFactors || cfg.Headless != "push" || d == nil:
			t.Fatalf("not a drop-in config: %+v", *cfg)
		case d.Host == "" || d.IKey == "" || d.SKey == "":
			t.Fatalf("accepted without host, ikey or skey: %v", d)
		case cfg.Prompts < 1 || cfg.Prompts > 3:
			t.Fatalf("prompts %d outside login_duo's 1..3", cfg.Prompts)
		case d.HTTPSTimeout < 0 || d.HTTPSTimeout%time.Second != 0:
			t.Fatalf("https_timeout %v", d.HTTPSTimeout)
		}
		set := false
		for _, e := range scanINI(&problems{path: path}, data) {
			set = set || e.key == "failmode"
		}
		if cfg.FailmodeDefaulted != !set || !set && cfg.Failmode != "safe" {
			t.Fatalf("FailmodeDefaulted %t with failmode %s set %t", cfg.FailmodeDefaulted, cfg.Failmode, set)
		}
		if err := cfg.check(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
		again, err := parseLoginDuo(path, testHost, []byte(writeLoginDuo(cfg)))
		if err != nil {
			t.Fatalf("written back, it fails: %v\n%s", err, writeLoginDuo(cfg))
		}
		// Warnings name lines, which the rewrite moves.
		again.Warnings, cfg.Warnings = nil, nil
		if !reflect.DeepEqual(*again, *cfg) || !reflect.DeepEqual(*again.Duo, *cfg.Duo) {
			t.Fatalf("round trip differs:\n got %+v %v\nwant %+v %v", *again, again.Duo, *cfg, cfg.Duo)
		}
	})
}

// writeLoginDuo writes cfg as a login_duo file, each key once.
func writeLoginDuo(cfg *Config) string {
	d := cfg.Duo
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	s := "[duo]\nikey = " + d.IKey + "\nskey = " + d.SKey + "\nhost = " + d.Host + "\n"
	if !cfg.FailmodeDefaulted {
		s += "failmode = " + string(cfg.Failmode) + "\n"
	}
	s += "groups = " + strings.Join(cfg.Groups, " ") + "\n"
	s += "autopush = " + yes(d.Autopush) + "\npushinfo = " + yes(d.Pushinfo) + "\nnoverify = " + yes(d.NoVerify) + "\n"
	s += "accept_env_factor = " + yes(cfg.AcceptEnvFactor) + "\n"
	s += "prompts = " + strconv.Itoa(cfg.Prompts) + "\n"
	s += "https_timeout = " + strconv.Itoa(int(d.HTTPSTimeout/time.Second)) + "\n"
	if d.HTTPProxy != "" {
		s += "http_proxy = " + d.HTTPProxy + "\n"
	}
	if d.CAFile != "" {
		s += "cafile = " + d.CAFile + "\n"
	}
	s += "motd = " + yes(cfg.Motd) + "\nsend_gecos = " + yes(d.SendGECOS) + "\nfallback_local_ip = " + yes(d.FallbackLocalIP) + "\nverified_push = " + yes(d.VerifiedPush) + "\n"
	if d.GECOSDelim != "" {
		s += "gecos_delim = " + d.GECOSDelim + "\n"
	}
	if d.GECOSPos != 0 {
		s += "gecos_username_pos = " + strconv.Itoa(d.GECOSPos) + "\n"
	}
	return s
}
