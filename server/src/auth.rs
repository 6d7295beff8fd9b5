//! Bearer tokens: `tw_<id>_<secret>`. The id finds the row, the secret is
//! compared by its SHA-256; tokens are scoped to a role and to targets.

use axum::http::HeaderMap;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::store::{Store, TokenRow};

/// Why a caller was not let in.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token, a malformed one, or one that is unknown, wrong or revoked.
    #[error("{0}")]
    Unauthenticated(String),
    /// A valid token that may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What a token may do: upload runs (`runner`), or file, vote on and apply
/// promotion requests (`maintainer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Runner,
    Maintainer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 2] = [Role::Runner, Role::Maintainer];

    /// The role as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Runner => "runner",
            Role::Maintainer => "maintainer",
        }
    }

    /// A stored role back; `None` for a name no version wrote.
    pub fn parse(stored: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == stored)
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::parse(s).ok_or_else(|| format!("unknown role `{s}`: one of runner, maintainer"))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A caller that presented a valid token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Token id.
    pub token_id: String,
    /// Token name.
    pub name: String,
    /// What the token may do.
    pub role: Role,
    /// The person a maintainer token belongs to.
    pub person: Option<String>,
    targets: Vec<String>,
}

impl Caller {
    /// The caller a stored token stands for.
    pub fn from_row(row: TokenRow) -> Caller {
        Caller {
            token_id: row.id,
            name: row.name,
            role: row.role,
            person: row.person,
            targets: row.targets.split(',').map(str::to_owned).filter(|t| !t.is_empty()).collect(),
        }
    }

    /// Who acts: the person holding the token, else (a token from before
    /// people, or a runner's) its name. Filings, votes and sign-ins are
    /// theirs, so one person is one voter whichever token they use.
    pub fn who(&self) -> &str {
        self.person.as_deref().unwrap_or(&self.name)
    }

    /// Whether the token may report results for `triple`.
    pub fn may_report(&self, triple: &str) -> bool {
        self.targets.iter().any(|t| t == "*" || t == triple)
    }

    /// Refuses callers that are not maintainers.
    pub fn require_maintainer(&self, to: &str) -> Result<(), AuthError> {
        if self.role == Role::Maintainer {
            return Ok(());
        }
        Err(AuthError::Forbidden(format!(
            "only maintainers may {to}; token `{}` has the `{}` role (create one with `tierwatch token create --role maintainer`)",
            self.name, self.role
        )))
    }

    /// The targets the token is scoped to, for messages.
    pub fn scope(&self) -> String {
        self.targets.join(", ")
    }
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A new token: the row to store and the secret to show once.
pub fn new_token(name: &str, role: Role, targets: &[String]) -> (TokenRow, String) {
    let mut rng = rand::rng();
    let id: String =
        (0..8).map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)])).collect();
    let secret: [u8; 24] = rng.random();
    let secret = hex::encode(secret);
    let row = TokenRow {
        id: id.clone(),
        name: name.to_owned(),
        secret_hash: sha256_hex(secret.as_bytes()),
        role,
        targets: targets.join(","),
        person: None,
        revoked: false,
    };
    (row, format!("tw_{id}_{secret}"))
}

/// Authenticates the request's bearer token.
pub async fn authenticate(store: &Store, headers: &HeaderMap) -> Result<Caller, AuthError> {
    let unauthenticated = |m: &str| AuthError::Unauthenticated(m.to_owned());
    let header = headers.get("authorization").ok_or_else(|| {
        unauthenticated("missing `Authorization: Bearer <token>`; create a token with `tierwatch token create`")
    })?;
    let value = header.to_str().map_err(|_| unauthenticated("the Authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <token>`"))?;
    check_token(store, token).await
}

/// Checks a token's text (`tw_<id>_<secret>`).
pub async fn check_token(store: &Store, token: &str) -> Result<Caller, AuthError> {
    let unauthenticated = |m: &str| AuthError::Unauthenticated(m.to_owned());
    let (id, secret) = token
        .trim()
        .strip_prefix("tw_")
        .and_then(|t| t.split_once('_'))
        .ok_or_else(|| unauthenticated("malformed token: expected `tw_<id>_<secret>`"))?;
    let row = store.token(id).await?.ok_or_else(|| unauthenticated("unknown or wrong token"))?;
    if row.revoked || sha256_hex(secret.as_bytes()) != row.secret_hash {
        return Err(unauthenticated("unknown or wrong token"));
    }
    Ok(Caller::from_row(row))
}
