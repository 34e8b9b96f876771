package mosaic

// CheckStatus is the result of one health check.
type CheckStatus string

// Check statuses. Warn means working but needing attention soon, such as a
// certificate close to its end.
const (
	CheckOK   CheckStatus = "ok"
	CheckWarn CheckStatus = "warn"
	CheckFail CheckStatus = "fail"
)

// Check is one named health check with its status and a reason a person can
// act on. Code, when set, names the finding in a word that stays the same
// for a program to act on, where Reason is worded for a person.
type Check struct {
	Name   string      `json:"name"`
	Status CheckStatus `json:"status"`
	Reason string      `json:"reason"`
	Code   string      `json:"code,omitempty"`
}

// Checks is a list of health checks.
type Checks []Check

// Failed reports whether any check failed.
func (cs Checks) Failed() bool {
	for _, c := range cs {
		if c.Status == CheckFail {
			return true
		}
	}
	return false
}
