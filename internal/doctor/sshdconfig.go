package doctor

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/logingate/logingate/internal/voice"
)

// This reader decides no setting (sshd -T does): it finds the Match blocks
// to probe, and the line a fix must name.

// Limits as sshd's (SERVCONF_MAX_DEPTH) or far above any real config.
const (
	maxIncludeDepth = 16
	maxConfigFiles  = 256
	maxConfigSize   = 1 << 20
)

// location is one line of an sshd config file.
type location struct {
	File string
	Line int
	Seq  int    // the order in which sshd reads it, across files
	Text string // the line, trimmed
}

func (l location) String() string { return fmt.Sprintf("%s:%d", l.File, l.Line) }

// setting is one "Keyword args..." line.
type setting struct {
	Key  string // keyword, lower-case
	Args []string
	At   location
}

// criterion is one "Attr patterns" pair of a Match line; Attr is lower-case.
type criterion struct{ Attr, Patterns string }

// matchBlock is a Match line and the settings under it.
type matchBlock struct {
	At       location
	Criteria []criterion
	Lines    []setting
}

// first returns the block's first line setting key, as sshd uses it.
func (b *matchBlock) first(key string) *setting {
	if i := slices.IndexFunc(b.Lines, func(s setting) bool { return s.Key == key }); i >= 0 {
		return &b.Lines[i]
	}
	return nil
}

// sshdConfig is what doctor learns from reading the config files itself.
type sshdConfig struct {
	Files    []string      // files read, in order
	Global   []setting     // settings outside any Match, in read order
	Blocks   []*matchBlock // in read order
	Includes []include
	Problems []string // files that could not be read, limits hit
}

type include struct {
	At      location
	Pattern string // absolute glob
}

// firstGlobal returns the line sshd takes for key outside Match blocks
// (for most keywords the first one wins), or nil.
func (c *sshdConfig) firstGlobal(key string) *setting {
	if all := c.globalAll(key); len(all) > 0 {
		return &all[0]
	}
	return nil
}

// globalAll returns every line setting key outside Match blocks.
func (c *sshdConfig) globalAll(key string) []setting {
	var out []setting
	for _, s := range c.Global {
		if s.Key == key {
			out = append(out, s)
		}
	}
	return out
}

// blocksSetting returns the Match blocks that set any of keys.
func (c *sshdConfig) blocksSetting(keys ...string) []*matchBlock {
	var out []*matchBlock
	for _, b := range c.Blocks {
		if slices.ContainsFunc(keys, func(k string) bool { return b.first(k) != nil }) {
			out = append(out, b)
		}
	}
	return out
}

// dropin returns the path of a 00-logingate.conf that an Include would
// read, and where that Include is.
func (c *sshdConfig) dropin() (string, location, bool) {
	for _, inc := range c.Includes {
		cand := filepath.Join(filepath.Dir(inc.Pattern), "00-logingate.conf")
		if ok, _ := filepath.Match(inc.Pattern, cand); ok {
			return cand, inc.At, true
		}
	}
	return "", location{}, false
}

// configReader reads the files of one sshd config.
type configReader struct {
	sshDir string // base of relative Include paths (/etc/ssh)
	read   func(string) ([]byte, error)
	glob   func(string) ([]string, error)
	cfg    *sshdConfig
	seq    int
}

// readSSHDConfig reads path and everything it includes, as sshd does.
func readSSHDConfig(path, sshDir string, read func(string) ([]byte, error), glob func(string) ([]string, error)) *sshdConfig {
	r := &configReader{sshDir: sshDir, read: read, glob: glob, cfg: &sshdConfig{}}
	r.file(path, nil, 0)
	return r.cfg
}

func (r *configReader) file(path string, block *matchBlock, depth int) {
	if len(r.cfg.Files) >= maxConfigFiles {
		r.cfg.Problems = append(r.cfg.Problems, "more than "+fmt.Sprint(maxConfigFiles)+" files; stopped at "+path)
		return
	}
	data, err := r.read(path)
	if err != nil {
		r.cfg.Problems = append(r.cfg.Problems, "cannot read "+path+": "+voice.ErrnoText(err))
		return
	}
	if len(data) > maxConfigSize {
		r.cfg.Problems = append(r.cfg.Problems, path+" is larger than 1 MiB; not read")
		return
	}
	r.cfg.Files = append(r.cfg.Files, path)
	r.parse(path, data, block, depth)
}

// parse reads one file's lines. block is the Match block an Include sits
// in; a Match inside this file lasts to its end, as in sshd.
func (r *configReader) parse(name string, data []byte, block *matchBlock, depth int) {
	for i, line := range strings.Split(string(data), "\n") {
		text := strings.TrimSpace(line)
		if text == "" || text[0] == '#' {
			continue
		}
		words := argvSplit(text)
		key, args := keywordArgs(words)
		if key == "" {
			continue
		}
		r.seq++
		at := location{File: name, Line: i + 1, Seq: r.seq, Text: text}
		switch key {
		case "match":
			block = &matchBlock{At: at, Criteria: criteria(args)}
			r.cfg.Blocks = append(r.cfg.Blocks, block)
		case "include":
			for _, a := range args {
				pat := a
				if !strings.HasPrefix(pat, "/") && !strings.HasPrefix(pat, "~") {
					pat = r.sshDir + "/" + pat
				}
				r.cfg.Includes = append(r.cfg.Includes, include{At: at, Pattern: pat})
				if depth+1 > maxIncludeDepth {
					r.cfg.Problems = append(r.cfg.Problems, at.String()+": Include nested too deeply")
					continue
				}
				paths, err := r.glob(pat)
				if err != nil {
					r.cfg.Problems = append(r.cfg.Problems, at.String()+": bad Include pattern")
					continue
				}
				sort.Strings(paths)
				for _, p := range paths {
					r.file(p, block, depth+1)
				}
			}
		default:
			s := setting{Key: key, Args: args, At: at}
			if block != nil {
				block.Lines = append(block.Lines, s)
			} else {
				r.cfg.Global = append(r.cfg.Global, s)
			}
		}
	}
}

// keywordArgs splits off the keyword, which "=" may also end
// ("ForceCommand=/x", "Port = 22"), as sshd's strdelim does.
func keywordArgs(words []string) (string, []string) {
	if len(words) == 0 {
		return "", nil
	}
	key, rest, found := strings.Cut(words[0], "=")
	args := words[1:]
	if found && rest != "" {
		args = append([]string{rest}, args...)
	} else if !found && len(args) > 0 {
		if args[0] == "=" {
			args = args[1:]
		} else if strings.HasPrefix(args[0], "=") {
			args = append([]string{args[0][1:]}, args[1:]...)
		}
	}
	return strings.ToLower(key), args
}

// criteria reads a Match line's "Attr patterns" pairs ("User=bob" too).
func criteria(args []string) []criterion {
	var out []criterion
	for i := 0; i < len(args); i++ {
		attr, val, found := strings.Cut(args[i], "=")
		attr = strings.ToLower(attr)
		if attr == "all" {
			out = append(out, criterion{Attr: "all"})
			continue
		}
		if !found {
			if i+1 >= len(args) {
				out = append(out, criterion{Attr: attr})
				break
			}
			i++
			val = args[i]
		}
		out = append(out, criterion{Attr: attr, Patterns: val})
	}
	return out
}

// argvSplit splits a config line into words as OpenSSH's argv_split: blanks
// separate words, double or single quotes group them, a backslash escapes a
// quote, a backslash or a blank, and a word starting with '#' ends the line.
func argvSplit(s string) []string {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			switch {
			case c == '\\' && i+1 < len(s) && (s[i+1] == quote || s[i+1] == '\\'):
				i++
				cur.WriteByte(s[i])
			case c == quote:
				quote = 0
			default:
				cur.WriteByte(c)
			}
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			return out
		case c == '\\' && i+1 < len(s) && strings.IndexByte(`"' \`, s[i+1]) >= 0:
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '"' || c == '\'':
			quote = c
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}
