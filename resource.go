package mosaic

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Resource names a kind of data a grant can share.
type Resource string

// The resources a gateway holds and can federate.
const (
	ResourceTasks       Resource = "tasks"
	ResourceNotes       Resource = "notes"
	ResourceTeams       Resource = "teams"
	ResourceUsers       Resource = "users"
	ResourceCredentials Resource = "credentials"
)

// Resources lists every valid resource name in a fixed order.
var Resources = []Resource{
	ResourceTasks, ResourceNotes, ResourceTeams, ResourceUsers, ResourceCredentials,
}

// Valid reports whether r is one of the five resource names.
func (r Resource) Valid() bool {
	for _, v := range Resources {
		if r == v {
			return true
		}
	}
	return false
}

// User is a person on this gateway.
type User struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"emailVerified"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// Email address limits (RFC 5321 §4.5.3.1).
const (
	MaxEmailLocalPart = 64
	MaxEmailDomain    = 255
)

// Validate checks the fields an admin supplies. The email is compared
// without regard to case, so Validate stores it in lower case.
func (u *User) Validate() error {
	if err := validateText("name", u.Name, 200); err != nil {
		return err
	}
	if err := validateText("email", u.Email, 320); err != nil {
		return err
	}
	if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email {
		return Errorf(KindInvalid, "invalid_email", "email: not a plain email address")
	}
	at := strings.LastIndexByte(u.Email, '@')
	if at > MaxEmailLocalPart {
		return Errorf(KindInvalid, "invalid_email",
			"email: the part before @ is at most %d bytes", MaxEmailLocalPart)
	}
	if len(u.Email)-at-1 > MaxEmailDomain {
		return Errorf(KindInvalid, "invalid_email",
			"email: the domain is at most %d bytes", MaxEmailDomain)
	}
	u.Email = strings.ToLower(u.Email)
	return nil
}

// Team is a group of users. Members see the team and each other.
type Team struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	MemberIDs []string  `json:"memberIds"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Validate checks the fields an admin supplies.
func (t *Team) Validate() error {
	return validateText("name", t.Name, 200)
}

// Task statuses.
const (
	TaskOpen       = "open"
	TaskInProgress = "in_progress"
	TaskDone       = "done"
)

// Task is a to-do item owned by one user.
type Task struct {
	ID        string    `json:"id"`
	UserID    string    `json:"userId"`
	Title     string    `json:"title"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Validate checks the fields an admin supplies. An empty status means open.
func (t *Task) Validate() error {
	if t.Status == "" {
		t.Status = TaskOpen
	}
	switch t.Status {
	case TaskOpen, TaskInProgress, TaskDone:
	default:
		return Errorf(KindInvalid, "invalid_status",
			"status: must be one of open, in_progress, done")
	}
	if err := ValidateID("userId", t.UserID); err != nil {
		return err
	}
	return validateText("title", t.Title, 500)
}

// Note is a free-text note owned by one user.
type Note struct {
	ID        string    `json:"id"`
	UserID    string    `json:"userId"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Validate checks the fields an admin supplies.
func (n *Note) Validate() error {
	if err := ValidateID("userId", n.UserID); err != nil {
		return err
	}
	if err := validateText("title", n.Title, 500); err != nil {
		return err
	}
	if len(n.Body) > 64<<10 || !utf8.ValidString(n.Body) {
		return Errorf(KindInvalid, "invalid_body", "body: must be valid UTF-8 of at most 64 KiB")
	}
	for _, r := range n.Body {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return Errorf(KindInvalid, "invalid_body",
				"body: control characters other than tab and line breaks are not allowed")
		}
	}
	return nil
}

// Credential is a secret a user keeps on this gateway, such as a password or
// an API key. Only its metadata is ever federated or listed; the secret is
// sealed at rest and never leaves the gateway.
type Credential struct {
	ID        string    `json:"id"`
	UserID    string    `json:"userId"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`

	// SealedSecret is the secret value sealed with the gateway's secret and
	// bound to the credential id. It is never serialised.
	SealedSecret []byte `json:"-"`
}

// Validate checks the fields an admin supplies.
func (c *Credential) Validate() error {
	if err := ValidateID("userId", c.UserID); err != nil {
		return err
	}
	if err := validateText("name", c.Name, 200); err != nil {
		return err
	}
	return validateText("kind", c.Kind, 50)
}

// validateText checks that a required text field is non-empty, valid UTF-8,
// at most max bytes long, and free of control characters and of the
// invisible format characters that make one text look like another.
func validateText(field, s string, max int) error {
	if strings.TrimSpace(s) == "" {
		return Errorf(KindInvalid, "invalid_"+field, "%s: required", field)
	}
	if len(s) > max {
		return Errorf(KindInvalid, "invalid_"+field, "%s: at most %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return Errorf(KindInvalid, "invalid_"+field, "%s: not valid UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return Errorf(KindInvalid, "invalid_"+field, "%s: control characters not allowed", field)
		}
		if spoofingFormat(r) {
			return Errorf(KindInvalid, "invalid_"+field,
				"%s: invisible formatting character U+%04X not allowed", field, r)
		}
	}
	return nil
}

// spoofingFormat reports whether r is an invisible character that can make
// a name display as another: bidirectional embeddings, overrides, isolates
// and marks, zero-width characters, the byte order mark, and line and
// paragraph separators (names are one line).
func spoofingFormat(r rune) bool {
	switch {
	case r >= 0x200B && r <= 0x200F: // zero-width space, joiners, LRM, RLM
		return true
	case r >= 0x2028 && r <= 0x202E: // line/paragraph separators, bidi embeddings, overrides
		return true
	case r >= 0x2060 && r <= 0x2069: // word joiner, invisible operators, bidi isolates
		return true
	case r == 0x061C || r == 0xFEFF: // Arabic letter mark, zero-width no-break space
		return true
	}
	return false
}
