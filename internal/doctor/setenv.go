package doctor

import (
	"fmt"
	"slices"
	"strings"
)

// envUse is how a variable SetEnv sets names files that run code.
type envUse int

const (
	envLibs      envUse = iota // files the loader maps into every program, the shell before the gate first
	envLibDirs                 // directories searched for libraries first
	envStartFile               // a file shells of the session source, after expanding the value
	envStartDir                // zsh reads .zshenv from it, before it runs the gate
	envTrace                   // expanded before each command (the gate first) once SHELLOPTS has xtrace
)

// codeEnv are the variables SetEnv can point at code. The shell that runs
// the ForceCommand loads or expands most before the gate starts; BASH_ENV
// and ENV run later, in the session (TestSSHDSetEnvPlantedFiles).
var codeEnv = map[string]envUse{
	"LD_PRELOAD": envLibs, "LD_AUDIT": envLibs,
	"LD_LIBRARY_PATH": envLibDirs, "GCONV_PATH": envLibDirs, "LOCPATH": envLibDirs,
	"BASH_ENV": envStartFile, "ENV": envStartFile,
	"ZDOTDIR": envStartDir,
	"PS4":     envTrace,
}

// checkSetEnv: sshd's SetEnv lines reach the shell that runs the gate and
// the session, and no client or user can override them; a value that names
// a file others can plant runs their code as every user who logs in.
func (a *auditor) checkSetEnv(e effective) []finding {
	vars := map[string]string{}
	var order []string
	for _, kv := range e["setenv"] {
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if _, dup := vars[name]; !dup {
			order = append(order, name)
		}
		vars[name] = val
	}
	xtrace := slices.Contains(strings.Split(vars["SHELLOPTS"], ":"), "xtrace")
	var out []finding
	for _, name := range order {
		use, ok := codeEnv[name]
		if !ok {
			continue
		}
		val := vars[name]
		var why []string
		switch use {
		case envLibs:
			for _, p := range strings.FieldsFunc(val, func(r rune) bool { return r == ':' || r == ' ' }) {
				if strings.Contains(p, "/") { // a bare name is searched in the system's library directories
					why = append(why, othersCanPlant(p)...)
				}
			}
		case envLibDirs:
			for _, d := range strings.Split(val, ":") {
				if d == "" {
					why = append(why, "an empty entry means the current directory (the user's home)")
					continue
				}
				why = append(why, othersCanPlant(d)...)
			}
		case envStartFile, envStartDir, envTrace:
			if use == envTrace && !xtrace {
				continue
			}
			if strings.ContainsAny(val, "$`") || strings.HasPrefix(val, "~") {
				why = append(why, "the shell expands "+quoteCmd(val)+" with the user's own environment (HOME, and whatever else reaches it), so the user decides what it names or runs")
			} else if use != envTrace {
				why = append(why, othersCanPlant(val)...)
			}
		}
		if len(why) == 0 {
			continue
		}
		when := "before the second factor is asked, and the key alone logs in from then on"
		if use == envStartFile { // TestSSHDSetEnvPlantedFiles
			when = "after the second factor: every bash script a session runs sources BASH_ENV, an interactive sh reads ENV (the shell sshd starts reads ~/.bashrc instead)"
		}
		want := setEnvWithout(e["setenv"], name)
		out = append(out, finding{ID: "setenv", Severity: sevHigh, Setting: "setenv " + name + "=" + val,
			Problem: fmt.Sprintf("sshd sets %s for the shell that starts logingate and for the session, and %s", name, strings.Join(why, "; ")),
			Attack:  fmt.Sprintf("whoever puts a file there (another local user, or anyone once past one login) runs code through %s as every user who logs in, %s", name, when),
			Want:    want, Keys: []string{"setenv"}, Fix: a.setEnvFix(name, want)})
	}
	return out
}

// setEnvWithout is the SetEnv line without name, or "" when nothing else
// is left.
func setEnvWithout(kvs []string, name string) string {
	var keep []string
	for _, kv := range kvs {
		if n, _, _ := strings.Cut(kv, "="); n != name {
			keep = append(keep, quoteSetEnv(kv))
		}
	}
	if len(keep) == 0 {
		return ""
	}
	return "SetEnv " + strings.Join(keep, " ")
}

func quoteSetEnv(kv string) string {
	if strings.ContainsAny(kv, " \t\"'") {
		return `"` + strings.ReplaceAll(kv, `"`, `\"`) + `"`
	}
	return kv
}

// setEnvFix names the global SetEnv line to change (sshd keeps only the
// first SetEnv line it reads).
func (a *auditor) setEnvFix(name, want string) string {
	s := a.cfg.firstGlobal("setenv")
	if s == nil {
		return "remove " + name + " from sshd's SetEnv, or point it at a file in directories only root can write"
	}
	verb := "change " + quoteCmd(s.At.Text) + " (" + s.At.String() + ") to " + quoteCmd(want)
	if want == "" {
		verb = "delete " + quoteCmd(s.At.Text) + " (" + s.At.String() + ")"
	}
	return verb + ", or point " + name + " at a file in directories only root can write"
}
