package doctor

import "strings"

// matchPattern is OpenSSH's match_pattern: '*' matches any run of bytes,
// '?' exactly one; everything else matches itself.
func matchPattern(s, pattern string) bool {
	// Iterative wildcard match with one backtrack point: linear in
	// practice, no recursion to blow up on fuzzed patterns.
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
			continue
		}
		if matchPattern(s, p) {
			matched = true
		}
	}
	return matched
}

// positives returns the patterns of a pattern-list that are not negated.
func positives(list string) []string {
	var out []string
	for _, p := range strings.Split(list, ",") {
		if p != "" && !strings.HasPrefix(p, "!") {
			out = append(out, p)
		}
	}
	return out
}

// hasWildcard reports whether p is a pattern rather than a plain name.
func hasWildcard(p string) bool { return strings.ContainsAny(p, "*?") }

// fillWildcards turns a pattern into one name it matches, writing fill for
// each wildcard.
func fillWildcards(p, fill string) string {
	r := strings.NewReplacer("*", fill, "?", fill)
	return r.Replace(p)
}
