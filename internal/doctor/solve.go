package doctor

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Solving a Match line's pattern-lists, as sshd reads them: doctor asks
// sshd about connections a Match block selects and ones its "!" patterns
// leave out, so it needs names and addresses that satisfy a list.

// solveName returns a name that list matches, preferring the given ones
// (accounts that exist), then a plain name the list holds, then one made
// from a pattern; "" when there is none. none reports that no name at all
// matches (every candidate of every pattern was tried).
func solveName(list string, prefer []string) (name string, none bool) {
	for _, p := range positives(list) {
		if !hasWildcard(p) && validName(p) && matchPatternList(p, list) {
			return p, false
		}
	}
	for _, n := range prefer {
		if validName(n) && matchPatternList(n, list) {
			return n, false
		}
	}
	for _, p := range positives(list) {
		if w := strings.NewReplacer("*", "x", "?", "x").Replace(p); validName(w) && matchPatternList(w, list) {
			return w, false
		}
	}
	none = true
	budget := maxWitnessStates
	for _, p := range positives(list) {
		w, exhausted := globWitness(p, negatives(list), &budget)
		if w != "" {
			return w, false
		}
		none = none && exhausted
	}
	return "", none
}

// witnessFor returns a name that pattern p itself matches: a preferred one,
// else one made from p.
func witnessFor(p string, prefer []string) string {
	for _, n := range prefer {
		if validName(n) && matchPattern(n, p) {
			return n
		}
	}
	budget := maxWitnessStates
	w, _ := globWitness(p, nil, &budget)
	return w
}

// Bounds of the search in globWitness, far above any real Match line: the
// patterns' total length and count, the states visited, the name's length.
const (
	maxWitnessPatternBytes = 512
	maxWitnessPatterns     = 32
	maxWitnessStates       = 5000
	maxWitnessLen          = 64
)

// globWitness finds a shortest valid name that pattern pos matches and no
// pattern in negs does, by a breadth-first search over the product of the
// patterns' automata. Bytes that no pattern names behave alike, so one of
// them stands for all. Each state visited costs one of *budget. exhausted
// reports that the search ended without hitting its bounds: then no such
// name exists.
func globWitness(pos string, negs []string, budget *int) (w string, exhausted bool) {
	pats := append([]string{pos}, negs...)
	if len(pats) > maxWitnessPatterns || len(strings.Join(pats, "")) > maxWitnessPatternBytes {
		return "", false
	}
	seenByte := map[byte]bool{}
	var alphabet []byte
	for _, p := range pats {
		for i := 0; i < len(p); i++ {
			if c := p[i]; c != '*' && c != '?' && c > ' ' && c != ',' && c != 0x7f && !seenByte[c] {
				seenByte[c] = true
				alphabet = append(alphabet, c)
			}
		}
	}
	for _, c := range []byte("xqzjk0123456789abcdefghilmnoprstuvwy") {
		if !seenByte[c] { // first, so that a made-up name reads as one
			alphabet = append([]byte{c}, alphabet...)
			break
		}
	}

	// Each node holds the name so far and, for each pattern, the positions
	// it may stand at; a node seen before adds nothing.
	type node struct {
		sets [][]bool
		w    string
	}
	start := make([][]bool, len(pats))
	for i, p := range pats {
		start[i] = make([]bool, len(p)+1)
		start[i][0] = true
		globClosure(p, start[i])
	}
	nodes := []node{{sets: start}}
	seen := map[string]bool{fmt.Sprint(start): true}
	for head := 0; head < len(nodes); head++ {
		n := nodes[head]
		if n.w != "" && n.sets[0][len(pos)] {
			refused := false
			for i := 1; i < len(pats); i++ {
				refused = refused || n.sets[i][len(pats[i])]
			}
			if !refused {
				return n.w, false
			}
		}
		if len(n.w) >= maxWitnessLen {
			return "", false
		}
		for _, c := range alphabet {
			next := make([][]bool, len(pats))
			for i, p := range pats {
				next[i] = globStep(p, n.sets[i], c)
			}
			if !slices.Contains(next[0], true) || seen[fmt.Sprint(next)] {
				continue
			}
			if *budget <= 0 {
				return "", false
			}
			*budget--
			seen[fmt.Sprint(next)] = true
			nodes = append(nodes, node{sets: next, w: n.w + string([]byte{c})})
		}
	}
	return "", true
}

// globClosure lets a '*' match nothing: a position before a star also
// stands after it.
func globClosure(p string, set []bool) {
	for i := 0; i < len(p); i++ {
		if set[i] && p[i] == '*' {
			set[i+1] = true
		}
	}
}

// globStep moves the positions of set in p over byte c.
func globStep(p string, set []bool, c byte) []bool {
	next := make([]bool, len(p)+1)
	for i := 0; i < len(p); i++ {
		if !set[i] {
			continue
		}
		switch p[i] {
		case '*':
			next[i] = true
		case '?', c:
			next[i+1] = true
		}
	}
	globClosure(p, next)
	return next
}

// addrEntry reads one address-list entry as sshd does: a CIDR block or an
// address. (sshd refuses a config with a block whose host bits are set, so
// sshd -T fails before doctor reads one.)
func addrEntry(e string) (netip.Prefix, bool) {
	if pfx, err := netip.ParsePrefix(e); err == nil {
		return pfx, pfx == pfx.Masked()
	}
	if a, err := netip.ParseAddr(e); err == nil && a.Zone() == "" {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// addrMatchList is OpenSSH's addr_match_list for an address that parses.
func addrMatchList(addr, list string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	matched := false
	for _, e := range strings.Split(list, ",") {
		e, neg := strings.CutPrefix(e, "!")
		if e == "" {
			return false // sshd refuses the whole list
		}
		hit := false
		if pfx, ok := addrEntry(e); ok {
			hit = pfx.Addr().Is4() == a.Is4() && pfx.Contains(a)
		} else {
			hit = matchPattern(addr, e)
		}
		if hit && neg {
			return false
		}
		matched = matched || hit
	}
	return matched
}

// addrCandidates are addresses in and just around one address-list entry:
// if any address satisfies a list, one of its entries' candidates does
// (walk down from any that does: the first address one meets that still
// does is a block's first, or follows a refused block's last).
func addrCandidates(e string) []netip.Addr {
	var out []netip.Addr
	if pfx, ok := addrEntry(e); ok {
		first, last := blockEnds(pfx)
		out = append(out, first.Next(), first, last.Prev(), last, first.Prev(), last.Next())
	} else {
		for _, fill := range []string{"1", "2", "0", "10", "100", "254", "255"} {
			if a, err := netip.ParseAddr(fillAddress(e, fill)); err == nil {
				out = append(out, a)
			}
		}
	}
	return slices.DeleteFunc(out, func(a netip.Addr) bool { return !a.IsValid() })
}

// blockEnds returns the first and last address of a CIDR block.
func blockEnds(pfx netip.Prefix) (first, last netip.Addr) {
	first = pfx.Masked().Addr()
	b := first.AsSlice()
	for i := pfx.Bits(); i < first.BitLen(); i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ = netip.AddrFromSlice(b)
	return first, last
}

// fillAddress turns a wildcard address pattern into an address, writing
// fill for each '*' (and its first digit for each '?'), and padding an
// IPv4 pattern to four octets.
func fillAddress(p, fill string) string {
	s := strings.NewReplacer("*", fill, "?", fill[:1]).Replace(p)
	if strings.Contains(p, ":") {
		return s
	}
	octets := strings.Split(s, ".")
	for len(octets) < 4 {
		octets = append(octets, fill)
	}
	return strings.Join(octets, ".")
}

// solveAddr returns an address the address list matches, or "". It
// prefers addresses that are not the first or last of a block the list
// names (a network or broadcast address is rarely a client).
func solveAddr(list string) string {
	var cands []netip.Addr
	edge := map[netip.Addr]bool{}
	// A block's own first address, then the neighbours of what the list
	// refuses, then the rest.
	for _, p := range positives(list) {
		if c := addrCandidates(p); len(c) > 0 {
			cands = append(cands, c[0])
		}
	}
	for _, n := range negatives(list) {
		cands = append(cands, addrCandidates(n)...)
	}
	for _, p := range positives(list) {
		cands = append(cands, addrCandidates(p)...)
		if pfx, ok := addrEntry(p); ok && pfx.Bits() < pfx.Addr().BitLen() {
			first, last := blockEnds(pfx)
			edge[first], edge[last] = true, true
		}
	}
	for _, pass := range []bool{false, true} {
		for _, a := range cands {
			if (pass || !edge[a]) && addrMatchList(a.String(), list) {
				return a.String()
			}
		}
	}
	return ""
}

// refusedAddrs returns one address inside each "!" entry of an address
// list: the connections the Match block leaves out.
func refusedAddrs(list string) []string {
	var out []string
	for _, n := range negatives(list) {
		for _, a := range addrCandidates(n) {
			if addrMatchList(a.String(), n) {
				out = append(out, a.String())
				break
			}
		}
	}
	return out
}
