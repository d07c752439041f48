package factors

import "context"

// Service is an outside second-factor service consulted once per login
// (Duo today). It decides before the menu what the user is offered.
type Service interface {
	// Name is the stable identifier used in audit lines ("duo").
	Name() string
	// Plan asks the service what the user must do for this login. A
	// service that cannot answer returns an error wrapping ErrService;
	// failmode applies to that error alone.
	Plan(ctx context.Context) (Plan, error)
}

// Verdict is what a service says about a user before any factor is tried.
type Verdict int

// Verdicts.
const (
	// Offer: the user proves presence with one of Plan.Factors.
	Offer Verdict = iota
	// Skip: the service requires nothing of this user (Duo preauth allow,
	// a bypass set by the service's administrator). Local factors the
	// user holds are still asked for.
	Skip
	// Refuse: the service refuses the user outright (Duo preauth deny, a
	// locked-out user). Nothing else is offered.
	Refuse
	// NotEnrolled: the user has no device with the service; Plan.EnrollURL
	// says where to get one.
	NotEnrolled
)

// Plan is a service's answer for one login.
type Plan struct {
	Verdict   Verdict
	Message   string // the service's own words for the user, sanitised
	EnrollURL string // NotEnrolled
	// Factors are the service's menu entries and code takers, in the
	// order the menu lists them.
	Factors []Factor
	// Auto is the action run without asking (autopush, headless: push):
	// the service's default for the user's default device. Nil when the
	// user has none.
	Auto Action
}

// Action is a factor the user picks rather than types a code for: a push,
// a phone call, a request for SMS passcodes.
type Action interface {
	Factor
	// Run performs the action. progress receives each status line the
	// service reports, to be shown as it comes; Run never prints.
	Run(ctx context.Context, progress func(string)) (Outcome, error)
}
