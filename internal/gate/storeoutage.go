package gate

import (
	"errors"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/voice"
)

// storeUnavailable applies failmode to a state store that cannot answer: a
// networked backend (PostgreSQL) that is down, refusing connections, too
// slow or failing over, whose error wraps store.ErrUnavailable. It is an
// outside service like Duo, so failmode safe lets the user in with a
// warning and failmode secure denies. ok is false for every other store
// error, which the caller denies as before: a broken record, a wrong key,
// a lock held by another login, a full disk.
func (g *Gate) storeUnavailable(err error, what string) (d Decision, ok bool) {
	if !errors.Is(err, store.ErrUnavailable) {
		return Decision{}, false
	}
	reason := "state store unavailable (" + what + "): " + err.Error()
	if g.Config.Failmode == config.FailmodeSafe {
		g.say(voice.Warning("the second-factor state store cannot be reached; letting you in (failmode safe)"))
		return Decision{Allow: true, Factor: noFactor, Failsafe: true, Reason: reason + "; failmode safe"}, true
	}
	g.say(voice.Error("the second-factor state store cannot be reached; access denied"))
	return Decision{Reason: reason + "; failmode secure"}, true
}
