// Package groups owns login_duo's group pattern-lists: parsing them and
// deciding whether a user's groups match. It has no dependencies so that both
// the config (which validates patterns at load time) and the gate (which
// matches them at login) can use it.
//
// The semantics are login_duo's, which takes them from OpenSSH's
// match_pattern_list and groupaccess.c; docs/logingate.1 (GROUP PATTERNS)
// specifies them, and the table tests hold this package to it.
package groups

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Policy is a parsed, valid set of pattern-lists. The zero value and a nil
// *Policy match everyone; use Parse to build a real one.
type Policy struct {
	lists []list
}

// list is one pattern-list: comma-separated patterns, some negated.
type list struct {
	text     string   // as written, for messages
	positive []string // patterns without '!'
	negated  []string // patterns that had a leading '!', without it
}

// Parse parses pattern-list strings, each of which may hold several
// white-space-separated pattern-lists. It fails on no lists at all, an empty
// string, an empty pattern (",," or a comma at either end) and a '!' with
// nothing after it. Error messages quote the offending pattern-list, which is
// never a secret.
func Parse(items []string) (*Policy, error) {
	if len(items) == 0 {
		return nil, errors.New("no pattern-lists; use \"*\" to require a second factor from everyone")
	}
	p := &Policy{}
	for _, item := range items {
		fields := strings.Fields(item)
		if len(fields) == 0 {
			return nil, errors.New("empty pattern-list; use \"*\" to require a second factor from everyone")
		}
		for _, f := range fields {
			l, err := parseList(f)
			if err != nil {
				return nil, err
			}
			p.lists = append(p.lists, l)
		}
	}
	return p, nil
}

func parseList(text string) (list, error) {
	l := list{text: text}
	for _, pat := range strings.Split(text, ",") {
		neg := strings.HasPrefix(pat, "!")
		if neg {
			pat = pat[1:]
		}
		switch {
		case pat == "" && neg:
			return list{}, fmt.Errorf("pattern-list %q: a lone \"!\" negates nothing; write \"!\" followed by a group pattern", text)
		case pat == "":
			return list{}, fmt.Errorf("pattern-list %q: empty pattern (two commas in a row, a comma at an end, or a space after a comma)", text)
		case strings.HasPrefix(pat, "!"):
			return list{}, fmt.Errorf("pattern-list %q: \"!!\" is not a double negation; use a single \"!\"", text)
		case neg:
			l.negated = append(l.negated, pat)
		default:
			l.positive = append(l.positive, pat)
		}
	}
	return l, nil
}

// Matches reports whether a user with these groups (primary and
// supplementary names) must pass the second factor. It fails closed: a nil or
// zero Policy, or an empty group set (a user always has a primary group, so an
// empty set means the lookup went wrong), matches.
func (p *Policy) Matches(groups []string) bool {
	if p == nil || len(p.lists) == 0 || len(groups) == 0 {
		return true
	}
	for _, l := range p.lists {
		if l.matches(groups) {
			return true
		}
	}
	return false
}

func (l list) matches(groups []string) bool {
	found := false
	for _, g := range groups {
		for _, pat := range l.negated {
			if match(pat, g) {
				return false
			}
		}
		if !found {
			for _, pat := range l.positive {
				if match(pat, g) {
					found = true
					break
				}
			}
		}
	}
	return found
}

// MatchesEveryone reports whether Matches is true for any group set, so that
// the caller may skip the group lookup: true when a list has a pattern made
// only of '*' and no negated pattern, and for a nil or zero Policy.
func (p *Policy) MatchesEveryone() bool {
	if p == nil || len(p.lists) == 0 {
		return true
	}
	for _, l := range p.lists {
		if len(l.negated) > 0 {
			continue
		}
		for _, pat := range l.positive {
			if strings.Trim(pat, "*") == "" {
				return true
			}
		}
	}
	return false
}

// OnlyNegated returns, as written, the pattern-lists that have no positive
// pattern and so can match no one (login_duo warns about them too).
func (p *Policy) OnlyNegated() []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, l := range p.lists {
		if len(l.positive) == 0 {
			out = append(out, l.text)
		}
	}
	return out
}

// texts returns the pattern-lists one by one, as written.
func (p *Policy) texts() []string {
	if p == nil {
		return nil
	}
	out := make([]string, len(p.lists))
	for i, l := range p.lists {
		out[i] = l.text
	}
	return out
}

// String returns the lists separated by spaces, the login_duo INI form;
// Parse of it gives an equal Policy.
func (p *Policy) String() string {
	return strings.Join(p.texts(), " ")
}

// match reports whether one pattern (no '!', no ',') matches name entirely.
// '*' matches any run of characters, '?' one character; everything else,
// '[' included, matches itself. It runs in O(len(pattern)*len(name)) at worst.
func match(pattern, name string) bool {
	// The classic greedy matcher with one backtrack point: on a mismatch
	// after a '*', let that star swallow one more character and retry.
	p, n := 0, 0
	starP, starN := -1, 0
	for n < len(name) {
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				starP, starN = p, n
				p++
				continue
			case '?':
				_, w := utf8.DecodeRuneInString(name[n:])
				p++
				n += w
				continue
			default:
				pr, pw := utf8.DecodeRuneInString(pattern[p:])
				nr, nw := utf8.DecodeRuneInString(name[n:])
				if pr == nr && pw == nw && pattern[p:p+pw] == name[n:n+nw] {
					p += pw
					n += nw
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, w := utf8.DecodeRuneInString(name[starN:])
		starN += w
		p, n = starP+1, starN
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
