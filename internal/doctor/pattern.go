package doctor

import (
	"slices"
	"strings"
)

// matchPattern is OpenSSH's match_pattern: '*' matches any run of bytes,
// '?' exactly one; everything else matches itself.
func matchPattern(s, pattern string) bool {
	// One backtrack point: linear in practice, no recursion for fuzzed
	// patterns to blow up.
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pattern) && pattern[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(pattern) && (pattern[pi] == '?' || pattern[pi] == s[si]):
			si++
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

// matchPatternList is OpenSSH's match_pattern_list: a comma-separated list
// of patterns, where a matching "!pattern" refuses outright and otherwise
// any matching pattern accepts. A list of negations alone matches nothing.
func matchPatternList(s, list string) bool {
	matched := false
	for _, p := range strings.Split(list, ",") {
		if neg, ok := strings.CutPrefix(p, "!"); ok {
			if matchPattern(s, neg) {
				return false
			}
		} else if matchPattern(s, p) {
			matched = true
		}
	}
	return matched
}

// positives and negatives return a pattern-list's plain patterns, and its
// "!" ones without the "!"; empty ones are left out.
func positives(list string) []string { pos, _ := splitList(list); return pos }
func negatives(list string) []string { _, neg := splitList(list); return neg }

func splitList(list string) (pos, neg []string) {
	for _, p := range strings.Split(list, ",") {
		if n, ok := strings.CutPrefix(p, "!"); ok && n != "" {
			neg = append(neg, n)
		} else if !ok && p != "" {
			pos = append(pos, p)
		}
	}
	return pos, neg
}

// negated reports whether a "!" pattern of list matches s.
func negated(s, list string) bool {
	return slices.ContainsFunc(negatives(list), func(n string) bool { return matchPattern(s, n) })
}

// hasWildcard reports whether p is a pattern rather than a plain name.
func hasWildcard(p string) bool { return strings.ContainsAny(p, "*?") }
