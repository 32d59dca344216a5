// Package store defines Stepup's storage contract: one interface split by
// aggregate, value types, and the sentinel errors every backend returns.
// Backends live in sub-packages (sqlite, postgres) and must pass the
// conformance suite in storetest.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
)

// Sentinel errors. Backends wrap nothing else around these for the cases
// they describe, so callers can use errors.Is.
var (
	ErrNotFound    = errors.New("store: not found")
	ErrConflict    = errors.New("store: conflict")
	ErrAlreadyUsed = errors.New("store: already used")
)

// Store is the whole storage contract.
type Store interface {
	Clients
	Users
	Sessions
	Codes
	Grants
	RefreshTokens
	Keys
	Credentials
	Links
	PushedRequests
	CIBA

	// Tx runs fn in one transaction: all of fn's writes commit together or
	// not at all. The Store passed to fn must be used inside fn only.
	Tx(ctx context.Context, fn func(Store) error) error
	// DeleteExpired removes codes, refresh tokens, grants, sessions, keys,
	// pushed requests and CIBA requests whose expiry is before now (a zero expiry never
	// expires) and returns how many rows went.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
	Close() error
}

// Client is a registered OAuth client.
type Client struct {
	ID                       string
	Name                     string
	SecretHash               string // empty for a public client
	RedirectURIs             []string
	PostLogoutRedirectURIs   []string
	GrantTypes               []string
	TokenEndpointAuthMethod  string
	IDTokenSignedResponseAlg string
	AccessTokenTTL           time.Duration // 0 = provider default
	IDTokenTTL               time.Duration
	RefreshTokenTTL          time.Duration
	// MinACR is the client's floor: no request can lower it ("" for none).
	MinACR string
	// ACRFallback, when true, answers an unmeetable voluntary acr_values
	// request with the best level reached instead of an error.
	ACRFallback bool
	// AllowNNIN lets the client receive the nnin claim (scope nnin).
	AllowNNIN bool
	Static    bool // declared in the configuration file
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Clients stores OAuth clients.
type Clients interface {
	// CreateClient fails with ErrConflict when the id exists.
	CreateClient(ctx context.Context, c Client) error
	// UpsertClient creates or replaces the client with c.ID, keeping CreatedAt.
	UpsertClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients returns all clients ordered by id.
	ListClients(ctx context.Context) ([]Client, error)
	DeleteClient(ctx context.Context, id string) error
}

// User is a local account. Username is stored case-folded (lower case).
type User struct {
	ID           string
	Username     string
	PasswordHash string
	Email        string
	Name         string
	// NNIN is a national identity number (optional, unique when set).
	NNIN string
	// Phone is an E.164 phone number (optional).
	Phone string
	// Birthdate is YYYY-MM-DD (optional).
	Birthdate string
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Users stores accounts.
type Users interface {
	// CreateUser fails with ErrConflict when the id or username exists.
	CreateUser(ctx context.Context, u User) error
	// UpsertUserByUsername creates the user or updates the one with the same
	// username (case-insensitively), keeping its ID and CreatedAt. It
	// returns the stored user.
	UpsertUserByUsername(ctx context.Context, u User) (User, error)
	UpdateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByUsername matches case-insensitively.
	GetUserByUsername(ctx context.Context, username string) (User, error)
	// GetUserByNNIN finds the user with that national identity number.
	GetUserByNNIN(ctx context.Context, nnin string) (User, error)
	// ListUsers returns all users ordered by username.
	ListUsers(ctx context.Context) ([]User, error)
	DeleteUser(ctx context.Context, id string) error
}

// Session is a browser session: a user and the append-only history of the
// authentication events performed in it. The cookie carries a handle whose
// hash is stored; the handle rotates on every step-up while ID stays.
type Session struct {
	ID         string
	HandleHash string
	UserID     string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	Events     []authn.Event // oldest first
}

// Sessions stores browser sessions and their events.
type Sessions interface {
	// CreateSession stores s with its initial events.
	CreateSession(ctx context.Context, s Session) error
	// GetSessionByHandle returns the session and all its events.
	GetSessionByHandle(ctx context.Context, handleHash string) (Session, error)
	GetSession(ctx context.Context, id string) (Session, error)
	// AppendEvent adds e to the session's history.
	AppendEvent(ctx context.Context, sessionID string, e authn.Event) error
	// RotateSessionHandle replaces the handle hash; ErrNotFound when the
	// session does not exist or its handle is no longer oldHash.
	RotateSessionHandle(ctx context.Context, sessionID, oldHash, newHash string) error
	// ListUserSessions returns the user's sessions, newest first.
	ListUserSessions(ctx context.Context, userID string) ([]Session, error)
	DeleteSession(ctx context.Context, id string) error
}

// Code is an authorization code, stored by the hash of its value.
type Code struct {
	Hash                string
	ClientID            string
	RedirectURI         string
	UserID              string
	SessionID           string
	Scope               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	ACR                 string
	AMR                 []string
	AuthTime            time.Time
	// AuthorizationDetails is the approved RFC 9396 JSON array ("" for none).
	AuthorizationDetails string
	CreatedAt            time.Time
	ExpiresAt            time.Time
	// GrantID is set when the code is consumed: the grant it produced.
	GrantID    string
	ConsumedAt time.Time
}

// Codes stores authorization codes.
type Codes interface {
	CreateCode(ctx context.Context, c Code) error
	// ConsumeCode marks the code consumed by grantID at now, atomically:
	// exactly one of concurrent callers succeeds. A code consumed before
	// yields the stored code (with the earlier GrantID) and ErrAlreadyUsed.
	// Unknown codes yield ErrNotFound. Expiry is the caller's check.
	ConsumeCode(ctx context.Context, hash, grantID string, now time.Time) (Code, error)
}

// Grant is what a client holds on behalf of a user: the family of the access
// and refresh tokens minted from one authorization (or one client
// credentials exchange). Revoking it revokes them all.
type Grant struct {
	ID        string
	ClientID  string
	UserID    string // empty for client credentials
	SessionID string
	Scope     string
	ACR       string
	AMR       []string
	AuthTime  time.Time
	// AuthorizationDetails is the granted RFC 9396 JSON array ("" for none).
	AuthorizationDetails string
	CreatedAt            time.Time
	ExpiresAt            time.Time
	RevokedAt            time.Time // zero while active
}

// Grants stores grants.
type Grants interface {
	CreateGrant(ctx context.Context, g Grant) error
	GetGrant(ctx context.Context, id string) (Grant, error)
	// RevokeGrant sets RevokedAt unless already set. ErrNotFound if unknown.
	RevokeGrant(ctx context.Context, id string, at time.Time) error
}

// RefreshToken is stored by the hash of its value and belongs to a grant.
type RefreshToken struct {
	Hash      string
	GrantID   string
	ClientID  string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // set when rotated
}

// RefreshTokens stores refresh tokens.
type RefreshTokens interface {
	CreateRefreshToken(ctx context.Context, rt RefreshToken) error
	GetRefreshToken(ctx context.Context, hash string) (RefreshToken, error)
	// UseRefreshToken marks the token used at now, atomically: exactly one of
	// concurrent callers succeeds; the others get the stored token and
	// ErrAlreadyUsed. Unknown tokens yield ErrNotFound.
	UseRefreshToken(ctx context.Context, hash string, now time.Time) (RefreshToken, error)
}

// Key is a signing key or a symmetric secret.
type Key struct {
	ID  string // kid
	Use string // "sig" for signing keys, "enc" for symmetric secrets
	Alg string // ES256, RS256, EdDSA, A256GCM
	// Private is the private key as JSON (a JWK) or raw secret bytes.
	Private   []byte
	CreatedAt time.Time
	// RetiredAt is when the key stopped being used for new signatures;
	// zero while active.
	RetiredAt time.Time
	// ExpiresAt is when the key leaves the JWKS; zero while active.
	ExpiresAt time.Time
}

// Keys stores keys.
type Keys interface {
	CreateKey(ctx context.Context, k Key) error
	// ListKeys returns all keys, newest first.
	ListKeys(ctx context.Context) ([]Key, error)
	// RetireKey sets RetiredAt and ExpiresAt of an active key.
	RetireKey(ctx context.Context, id string, retiredAt, expiresAt time.Time) error
}

// Credential types.
const (
	CredentialTOTP     = "totp"
	CredentialPasskey  = "passkey"
	CredentialRecovery = "recovery"
)

// Credential is an enrolled authenticator of a user: a TOTP secret, a
// WebAuthn passkey, or one recovery code.
type Credential struct {
	// ID is unique across users: for passkeys the base64url credential ID.
	ID     string
	UserID string
	Type   string
	Name   string
	// Secret is the TOTP secret, a recovery code's SHA-256, or the passkey's
	// serialised public-key credential.
	Secret []byte
	// Counter is the passkey signature counter, or the last TOTP time step
	// accepted (so a code is accepted once).
	Counter int64
	// Passkey properties recorded at registration.
	BackupEligible bool
	BackupState    bool
	UserVerified   bool
	Attested       bool
	AAGUID         string
	CreatedAt      time.Time
	LastUsedAt     time.Time // zero until first use
}

// Credentials stores enrolled authenticators.
type Credentials interface {
	// CreateCredential fails with ErrConflict when the id exists.
	CreateCredential(ctx context.Context, c Credential) error
	GetCredential(ctx context.Context, id string) (Credential, error)
	// ListCredentials returns the user's credentials, oldest first.
	ListCredentials(ctx context.Context, userID string) ([]Credential, error)
	// UseCredential records a use at counter n, atomically: it succeeds only
	// when n is greater than the stored counter, or when both are zero
	// (passkeys without a counter). Otherwise it returns ErrConflict (a
	// replayed TOTP step or a passkey counter regression). Exactly one of
	// concurrent callers with the same n succeeds. ErrNotFound if unknown.
	UseCredential(ctx context.Context, id string, n int64, at time.Time) error
	// UpdateCredential replaces mutable fields (Name, BackupState).
	UpdateCredential(ctx context.Context, c Credential) error
	// DeleteCredential removes it; ErrNotFound if already gone, so deleting
	// a recovery code is its one-time consumption.
	DeleteCredential(ctx context.Context, id string) error
}

// Link binds an upstream provider's subject to a local user.
type Link struct {
	Upstream  string
	Subject   string
	UserID    string
	CreatedAt time.Time
}

// Links stores upstream account links.
type Links interface {
	// CreateLink fails with ErrConflict when (Upstream, Subject) is linked.
	CreateLink(ctx context.Context, l Link) error
	GetLink(ctx context.Context, upstream, subject string) (Link, error)
}

// PushedRequest is a pushed authorization request (RFC 9126), stored by
// the hash of its request_uri until used once or expired.
type PushedRequest struct {
	Hash     string
	ClientID string
	// Payload is the validated request, opaque to the store.
	Payload   []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// PushedRequests stores pushed authorization requests.
type PushedRequests interface {
	CreatePushedRequest(ctx context.Context, r PushedRequest) error
	// ConsumePushedRequest returns the request and deletes it, atomically:
	// exactly one of concurrent callers gets it; the others, and any later
	// caller, get ErrNotFound. Expiry is the caller's check.
	ConsumePushedRequest(ctx context.Context, hash string) (PushedRequest, error)
}

// CIBA request states.
const (
	CIBAPending  = "pending"
	CIBAApproved = "approved"
	CIBADenied   = "denied"
)

// CIBARequest is a client-initiated backchannel authentication request
// (OpenID CIBA Core 1.0). ID is the hash of its auth_req_id.
type CIBARequest struct {
	ID                   string
	ClientID             string
	UserID               string
	Scope                string
	ACRValues            []string
	BindingMessage       string
	AuthorizationDetails string
	// Mode is poll, ping or push; NotificationToken is the client's bearer
	// token for ping and push.
	Mode              string
	NotificationToken string
	Status            string
	// Set by the decision: what the user's authentication proved.
	ACR      string
	AMR      []string
	AuthTime time.Time
	// IntervalSeconds is the minimum polling interval.
	IntervalSeconds int
	LastPolledAt    time.Time
	CreatedAt       time.Time
	ExpiresAt       time.Time
	DecidedAt       time.Time
	// GrantID is set when the tokens were issued (once).
	GrantID    string
	RedeemedAt time.Time
}

// CIBA stores backchannel authentication requests.
type CIBA interface {
	// CreateCIBARequest fails with ErrConflict when the id exists.
	CreateCIBARequest(ctx context.Context, r CIBARequest) error
	GetCIBARequest(ctx context.Context, id string) (CIBARequest, error)
	// ListPendingCIBARequests returns the user's pending requests that
	// expire after now (a zero expiry never expires), oldest first.
	ListPendingCIBARequests(ctx context.Context, userID string, now time.Time) ([]CIBARequest, error)
	// DecideCIBARequest moves a pending request to status (approved or
	// denied), recording acr, amr and auth_time and DecidedAt = at,
	// atomically: ErrConflict when it is no longer pending, ErrNotFound
	// when unknown. Exactly one of concurrent deciders succeeds.
	DecideCIBARequest(ctx context.Context, id, status, acr string, amr []string, authTime, at time.Time) error
	// TouchCIBARequest records a poll at now and returns the previous poll
	// time (zero for the first), atomically. ErrNotFound when unknown.
	TouchCIBARequest(ctx context.Context, id string, now time.Time) (time.Time, error)
	// RedeemCIBARequest marks an approved request redeemed by grantID at
	// now, atomically and once: a later caller gets the stored request and
	// ErrAlreadyUsed; a request that is not approved gets ErrConflict (and
	// the stored request); ErrNotFound when unknown.
	RedeemCIBARequest(ctx context.Context, id, grantID string, now time.Time) (CIBARequest, error)
}
