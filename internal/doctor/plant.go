package doctor

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/logingate/logingate/internal/privilege"
	"github.com/logingate/logingate/internal/voice"
)

// othersCanPlant says why someone other than root can create or replace
// the file at path, or returns nil when only root can: doctor's one use of
// the path-trust rule (privilege.Check) for files that need not exist yet.
// A missing path is judged by the nearest directory that exists, where the
// sticky bit does not help: nothing is in place to protect.
func othersCanPlant(path string) []string {
	if !filepath.IsAbs(path) {
		return []string{path + " is not an absolute path, so the directory it is read from (the user's home, for the shell sshd starts) decides what it names"}
	}
	for hops := 0; hops < 40; hops++ {
		if _, err := filepath.EvalSymlinks(path); err == nil {
			return problemsOf(trustProblems(path))
		}
		fi, err := os.Lstat(path)
		if err == nil && fi.Mode()&os.ModeSymlink != 0 {
			// A link to nothing yet: whoever may create its target plants
			// the file, and whoever may replace the link redirects it.
			target, err := os.Readlink(path)
			if err != nil {
				return []string{path + ": " + voice.ErrnoText(err)}
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(path), target)
			}
			if probs := problemsOf(trustProblems(filepath.Dir(path))); len(probs) > 0 {
				return probs
			}
			path = filepath.Clean(target)
			continue
		}
		// Missing: the nearest existing directory decides who may create it.
		dir := filepath.Dir(path)
		for {
			if _, err := filepath.EvalSymlinks(dir); err == nil || dir == "/" {
				break
			}
			dir = filepath.Dir(dir)
		}
		found, err := trustProblems(dir)
		probs := problemsOf(found, err)
		for i, u := range found {
			if err == nil && u.Path == dir {
				probs[i] = path + " does not exist, and " + u.Problem + ", so others can create it"
			}
		}
		return probs
	}
	return []string{path + ": too many symbolic links"}
}

// trustProblems judges an existing file or directory by the path-trust
// rule root's own config paths follow (links through the same checks).
func trustProblems(path string) ([]*privilege.Unsafe, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return privilege.CheckDir(path, privilege.Rule{Links: true})
	}
	return privilege.Check(path, privilege.Rule{Links: true})
}

// problemsOf lists the problems found; a path doctor cannot check (not
// root, say) yields none rather than a guess.
func problemsOf(probs []*privilege.Unsafe, err error) []string {
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range probs {
		out = append(out, p.Problem)
	}
	return out
}

// missingBinary judges a gate binary that cannot be found: every login
// fails closed, unless someone other than root can put a program there,
// which is then everyone's gate.
func missingBinary(path string, err error) finding {
	f := finding{ID: "binary-missing", Severity: sevMedium, Setting: path,
		Problem: "cannot check " + path + ": " + voice.ErrnoText(err) + "; if sshd's ForceCommand names it, every login fails",
		Attack:  "none: logins fail closed", Fix: "install logingate at " + path + " (make install), or fix the ForceCommand path"}
	if why := othersCanPlant(path); len(why) > 0 {
		f.ID, f.Severity = "binary-plantable", sevHigh
		f.Problem = path + " does not exist, and someone other than root can create it: " + strings.Join(why, "; ")
		f.Attack = "whoever creates " + path + " writes the gate: a program that lets everyone in, and runs as every user who logs in"
		f.Fix = "install logingate at " + path + " (make install) in root-owned directories that only root can write, or fix the ForceCommand path"
	}
	return f
}
