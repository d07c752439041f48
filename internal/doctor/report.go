package doctor

import (
	"fmt"
	"io"
	"strings"
)

// merge merges the same finding across probes, worst first, and counts.
func (a *auditor) merge(list []probe) *report {
	type merged struct {
		f      finding
		probes []int
	}
	var order []*merged
	groups := map[string]*merged{}
	for _, r := range a.found {
		key := strings.Join([]string{r.ID, string(r.Severity), r.Setting, r.Problem, r.Attack, r.Fix, r.Context}, "\x00")
		m := groups[key]
		if m == nil {
			m = &merged{f: r.finding}
			groups[key] = m
			order = append(order, m)
		}
		if r.probe >= 0 {
			m.probes = append(m.probes, r.probe)
		}
	}
	rep := &report{Findings: []finding{}}
	s := &rep.Summary
	counts := map[severity]*int{sevHigh: &s.High, sevMedium: &s.Medium, sevLow: &s.Low, sevInfo: &s.Info}
	for _, sev := range []severity{sevHigh, sevMedium, sevLow, sevInfo} {
		for _, m := range order {
			if m.f.Severity != sev {
				continue
			}
			if m.f.Context == "" {
				m.f.Context = contextText(list, m.probes)
			}
			rep.Findings = append(rep.Findings, m.f)
			*counts[sev]++
		}
	}
	s.Contexts = []string{}
	for i := range list {
		s.Contexts = append(s.Contexts, list[i].label())
	}
	s.Pass = s.High == 0
	return rep
}

// contextText names the probes a finding holds for.
func contextText(list []probe, idx []int) string {
	if len(idx) == len(list) && len(list) > 1 {
		return fmt.Sprintf("every connection checked (%d)", len(list))
	}
	in := map[int]bool{}
	for _, n := range idx {
		in[n] = true
	}
	// Most connections, the default among them: name the exceptions.
	if len(list) > 2 && list[0].Default && in[0] && 2*len(idx) > len(list) {
		var except []int
		for n := range list {
			if !in[n] {
				except = append(except, n)
			}
		}
		return fmt.Sprintf("every connection checked (%d) except %s", len(list), labels(list, except))
	}
	return labels(list, idx)
}

// labels names the probes at idx, the first few of them.
func labels(list []probe, idx []int) string {
	const show = 6
	var out []string
	for i, n := range idx {
		if i == show {
			out = append(out, fmt.Sprintf("and %d more", len(idx)-show))
			break
		}
		out = append(out, list[n].label())
	}
	return strings.Join(out, "; ")
}

// writeText prints the report for a person: findings grouped by severity,
// then a summary line.
func writeText(w io.Writer, o options, rep *report) {
	fmt.Fprintf(w, "logingate doctor: %s -T -f %s, %d connections checked\n", o.SSHD, o.SSHDConfig, len(rep.Summary.Contexts))
	for _, c := range rep.Summary.Contexts {
		fmt.Fprintf(w, "  %s\n", c)
	}
	var cur severity
	for _, f := range rep.Findings {
		if f.Severity != cur {
			cur = f.Severity
			fmt.Fprintf(w, "\n%s\n", strings.ToUpper(string(cur)))
		}
		fmt.Fprintf(w, "  [%s] %s\n    context: %s\n    problem: %s\n    attack:  %s\n    fix:     %s\n",
			f.ID, f.Setting, f.Context, f.Problem, f.Attack, f.Fix)
	}
	s := rep.Summary
	verdict := "pass"
	if !s.Pass {
		verdict = "FAIL: a high finding leaves a way around the second factor"
	}
	fmt.Fprintf(w, "\nsummary: %d high, %d medium, %d low, %d info: %s\n", s.High, s.Medium, s.Low, s.Info, verdict)
}
