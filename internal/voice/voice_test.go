package voice

import (
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	for got, want := range map[string]string{
		Error("access denied"):             "logingate: error: access denied",
		Errorf("no such user %q", "x"):     `logingate: error: no such user "x"`,
		Warning("audit log unreachable"):   "logingate: warning: audit log unreachable",
		Warningf("%d problems", 2):         "logingate: warning: 2 problems",
		Hint("log in with a terminal"):     "logingate: hint: log in with a terminal",
		Hintf("run: logingate %s", "help"): "logingate: hint: run: logingate help",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// TestNoHandTypedPrefix reads every production Go file in the module (not
// tests, not internal/testutil) and fails on a string literal that holds
// the error, warning or hint prefix: such lines are made by this package,
// so that the voice has one home.
func TestNoHandTypedPrefix(t *testing.T) {
	root := moduleRoot(t)
	prefixes := []string{errorPrefix, warningPrefix, hintPrefix}
	self, err := filepath.Abs("voice.go")
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "testutil", "vendor":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || path == self {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		fset := token.NewFileSet()
		var s scanner.Scanner
		s.Init(fset.AddFile(path, -1, len(src)), src, nil, 0)
		for {
			pos, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok != token.STRING {
				continue
			}
			for _, p := range prefixes {
				if strings.Contains(lit, strings.TrimSpace(p)) {
					rel, _ := filepath.Rel(root, path)
					t.Errorf("%s:%d writes %q by hand; use voice.%s", rel, fset.Position(pos).Line, strings.TrimSpace(p), helperFor(p))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("read only %d production files under %s; the walk is broken", files, root)
	}
}

func helperFor(prefix string) string {
	switch prefix {
	case errorPrefix:
		return "Error"
	case warningPrefix:
		return "Warning"
	}
	return "Hint"
}

// moduleRoot is the directory above this package that holds go.mod.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
