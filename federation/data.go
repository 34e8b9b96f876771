package federation

import (
	"context"
	"strconv"
	"unicode/utf8"

	"github.com/mosaicgw/mosaic"
)

// MaxCredentialSecret bounds the size of a credential's secret value.
const MaxCredentialSecret = 8 << 10

// CreateUser validates and stores a new user. The id and timestamps are
// ours; those of in are ignored. A duplicate email is KindConflict.
func (s *Service) CreateUser(ctx context.Context, in mosaic.User) (*mosaic.User, error) {
	u := in
	if err := u.Validate(); err != nil {
		return nil, err
	}
	u.ID = mosaic.NewID()
	u.CreatedAt, u.UpdatedAt = s.now(), s.now()
	if err := s.cfg.Store.CreateUser(ctx, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// ListUsers returns every user.
func (s *Service) ListUsers(ctx context.Context) ([]*mosaic.User, error) {
	return s.cfg.Store.ListUsers(ctx)
}

// CreateTeam validates and stores a new team with its members, each listed
// once. An unknown member is KindNotFound.
func (s *Service) CreateTeam(ctx context.Context, in mosaic.Team) (*mosaic.Team, error) {
	t := in
	if err := t.Validate(); err != nil {
		return nil, err
	}
	members := make([]string, 0, len(in.MemberIDs))
	seen := map[string]bool{}
	for _, id := range in.MemberIDs {
		if err := mosaic.ValidateID("memberIds", id); err != nil {
			return nil, err
		}
		if !seen[id] {
			seen[id] = true
			members = append(members, id)
		}
	}
	t.MemberIDs = members
	t.ID = mosaic.NewID()
	t.CreatedAt, t.UpdatedAt = s.now(), s.now()
	if err := s.cfg.Store.CreateTeam(ctx, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// AddTeamMember adds a user to a team. Unknown team or user is
// KindNotFound.
func (s *Service) AddTeamMember(ctx context.Context, teamID, userID string) error {
	if err := validatePathID("team", teamID); err != nil {
		return err
	}
	if err := mosaic.ValidateID("userId", userID); err != nil {
		return err
	}
	return s.cfg.Store.AddTeamMember(ctx, teamID, userID)
}

// ListTeams returns every team with its members.
func (s *Service) ListTeams(ctx context.Context) ([]*mosaic.Team, error) {
	return s.cfg.Store.ListTeams(ctx)
}

// CreateTask validates and stores a new task; an empty status means open.
func (s *Service) CreateTask(ctx context.Context, in mosaic.Task) (*mosaic.Task, error) {
	t := in
	if err := t.Validate(); err != nil {
		return nil, err
	}
	t.ID = mosaic.NewID()
	t.CreatedAt, t.UpdatedAt = s.now(), s.now()
	if err := s.cfg.Store.CreateTask(ctx, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateNote validates and stores a new note.
func (s *Service) CreateNote(ctx context.Context, in mosaic.Note) (*mosaic.Note, error) {
	n := in
	if err := n.Validate(); err != nil {
		return nil, err
	}
	n.ID = mosaic.NewID()
	n.CreatedAt, n.UpdatedAt = s.now(), s.now()
	if err := s.cfg.Store.CreateNote(ctx, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

// CredentialInput is a new credential as an admin gives it. Secret is the
// value to keep; it is sealed before it reaches the store and never
// returned.
type CredentialInput struct {
	UserID string
	Name   string
	Kind   string
	Secret string
}

// CreateCredential validates a credential, seals its secret bound to the
// credential's id, and stores it. The answer holds metadata only.
func (s *Service) CreateCredential(ctx context.Context,
	in CredentialInput) (*mosaic.Credential, error) {
	c := &mosaic.Credential{UserID: in.UserID, Name: in.Name, Kind: in.Kind}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if in.Secret == "" || len(in.Secret) > MaxCredentialSecret || !utf8.ValidString(in.Secret) {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_secret",
			"secret: required, valid UTF-8 of at most %d bytes", MaxCredentialSecret)
	}
	c.ID = mosaic.NewID()
	sealed, err := s.cfg.Sealer.Seal([]byte(in.Secret), credentialAAD(c.ID))
	if err != nil {
		return nil, err
	}
	c.SealedSecret = sealed
	c.CreatedAt, c.UpdatedAt = s.now(), s.now()
	if err := s.cfg.Store.CreateCredential(ctx, c); err != nil {
		return nil, err
	}
	c.SealedSecret = nil
	return c, nil
}

// credentialAAD binds a sealed credential secret to its credential.
func credentialAAD(id string) []byte {
	return mosaic.SealedRef{Table: mosaic.SealedCredentials, ID: id}.AAD()
}

// ListInput asks for one page of an admin listing. UserID, when set, keeps
// the rows that user sees; Limit and Cursor are raw query values.
type ListInput struct {
	Resource mosaic.Resource
	UserID   string
	Limit    string
	Cursor   string
}

// ListPage is one page of an admin listing.
type ListPage struct {
	Items      []any
	NextCursor string
}

// ListResource returns one page of a resource for the admin API. The limit
// defaults to mosaic.DefaultListLimit and is capped at mosaic.MaxListLimit.
func (s *Service) ListResource(ctx context.Context, in ListInput) (*ListPage, error) {
	if !in.Resource.Valid() {
		return nil, mosaic.Errorf(mosaic.KindNotFound, "unknown_resource", "unknown resource")
	}
	if in.UserID != "" {
		if err := mosaic.ValidateID("user", in.UserID); err != nil {
			return nil, err
		}
	}
	limit, err := ParseLimit(in.Limit, mosaic.DefaultListLimit, mosaic.MaxListLimit)
	if err != nil {
		return nil, err
	}
	after, err := DecodeCursor(in.Cursor)
	if err != nil {
		return nil, err
	}
	page, err := s.cfg.Store.ReadPage(ctx, mosaic.PageQuery{
		Resource: in.Resource, UserID: in.UserID, After: after, Limit: limit,
	})
	if err != nil {
		return nil, err
	}
	return &ListPage{Items: metadataOnly(page.Items), NextCursor: EncodeCursor(page.Next)}, nil
}

// ParseLimit parses an optional positive limit given as text: empty means
// def, a value above max is capped at max, anything else is KindInvalid
// "invalid_limit".
func ParseLimit(s string, def, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, errInvalidLimit
	}
	return min(n, max), nil
}

// ListPeers returns the peers matching f, each with its renewal state.
func (s *Service) ListPeers(ctx context.Context, f mosaic.PeerFilter) ([]*mosaic.Peer, error) {
	switch f.Role {
	case "", mosaic.PeerInbound, mosaic.PeerOutbound:
	default:
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_role", "role: must be inbound or outbound")
	}
	switch f.State {
	case "", mosaic.PeerPending, mosaic.PeerActive, mosaic.PeerSuspended, mosaic.PeerRevoked:
	default:
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_state",
			"state: must be one of pending, active, suspended, revoked")
	}
	peers, err := s.cfg.Store.ListPeers(ctx, f)
	if err != nil {
		return nil, err
	}
	s.withRenewal(peers...)
	return peers, nil
}

// FindPeer returns one peer, with its renewal state.
func (s *Service) FindPeer(ctx context.Context, id string) (*mosaic.Peer, error) {
	if err := validatePathID("peer", id); err != nil {
		return nil, err
	}
	p, err := s.cfg.Store.FindPeer(ctx, id)
	if err != nil {
		return nil, err
	}
	s.withRenewal(p)
	return p, nil
}

// ListAudit returns audit events matching f, newest first. The limit is
// capped at mosaic.MaxListLimit.
func (s *Service) ListAudit(ctx context.Context,
	f mosaic.AuditFilter) ([]*mosaic.AuditEvent, error) {
	for field, id := range map[string]string{"peer": f.PeerID, "grant": f.GrantID} {
		if id != "" {
			if err := mosaic.ValidateID(field, id); err != nil {
				return nil, err
			}
		}
	}
	switch f.Outcome {
	case "", mosaic.OutcomeAllowed, mosaic.OutcomeDenied:
	default:
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_outcome",
			"outcome: must be allowed or denied")
	}
	if f.Limit < 0 {
		return nil, errInvalidLimit
	}
	f.Limit = min(f.Limit, mosaic.MaxListLimit)
	return s.cfg.Store.ListAudit(ctx, f)
}

// errInvalidLimit is the error of a limit that is not a positive integer.
var errInvalidLimit = mosaic.Errorf(mosaic.KindInvalid, "invalid_limit",
	"limit: must be a positive integer")
