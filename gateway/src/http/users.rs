//! `/v1/users/*`: profiles (read from the User aggregate, so always current),
//! profile and settings changes, and the directory search.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, patch};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ciphertalk_domain::clock::now;
use ciphertalk_domain::user::{Account, LastSeenVisibility, Settings, User, UserCommand};
use ciphertalk_domain::values::{Bio, DisplayName, Username};
use ciphertalk_domain::{FileId, UserId};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser, Limit};
use super::shared::metadata;
use crate::directory;
use crate::realtime::presence::Status;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/users", get(search))
        .route("/v1/users/me", patch(update_me))
        .route("/v1/users/me/settings", get(get_settings).patch(update_settings))
        .route("/v1/users/{id}", get(get_user))
}

/// A user as the API shows it. `email` and `phone` only to the user themself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserJson {
    #[schema(value_type = Uuid)]
    pub id: UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_file_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// Presence; present once presence is tracked and visible to the viewer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
}

impl UserJson {
    /// What the user sees of themself.
    pub fn private(account: &Account) -> Self {
        Self {
            email: account.email.as_ref().map(|e| e.as_str().to_owned()),
            phone: account.phone.as_ref().map(|p| p.as_str().to_owned()),
            ..Self::public(account)
        }
    }

    /// What others see.
    pub fn public(account: &Account) -> Self {
        Self {
            id: account.user_id,
            email: None,
            phone: None,
            username: account.username.as_ref().map(|u| u.as_str().to_owned()),
            display_name: account.display_name.as_str().to_owned(),
            bio: account.bio.as_ref().map(|b| b.as_str().to_owned()),
            avatar_file_id: account.avatar_file_id.map(|f| f.as_uuid()),
            created_at: account.created_at,
            last_seen: None,
            online: None,
        }
    }

    fn from_entry(entry: directory::Entry) -> Self {
        Self {
            id: UserId::from_uuid(entry.user_id),
            email: None,
            phone: None,
            username: entry.username,
            display_name: entry.display_name,
            bio: entry.bio,
            avatar_file_id: entry.avatar_file_id,
            created_at: entry.created_at,
            last_seen: None,
            online: None,
        }
    }
}

/// A registered user's account and admin flag, read from the aggregate.
pub async fn load_account(state: &AppState, user_id: UserId) -> Result<Option<(Account, bool)>, ApiError> {
    let loaded = state.write.users.load(&user_id.to_string()).await?;
    Ok(loaded.aggregate.account().cloned().map(|account| (account, loaded.aggregate.is_admin())))
}

#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = UserJson), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn get_user(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<UserId>,
) -> Result<Json<UserJson>, ApiError> {
    let (account, _) = load_account(&state, id).await?.ok_or_else(ApiError::not_found)?;
    let mut json = if id == user.user_id { UserJson::private(&account) } else { UserJson::public(&account) };
    // Presence as the subject's privacy setting lets the caller see it; it is
    // best effort (NATS may be away) and never fails the request.
    match state.realtime.presence_for(user.user_id, id).await {
        Ok(status) if status != Status::HIDDEN => {
            json.online = Some(status.online);
            json.last_seen = status.last_seen;
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "presence unavailable"),
    }
    Ok(Json(json))
}

/// `null` in a patch clears the field; a missing field keeps it.
fn patch_field<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    #[schema(value_type = Option<String>)]
    pub display_name: Option<DisplayName>,
    /// 3 to 32 of `[a-z0-9_]`, unique.
    #[schema(value_type = Option<String>)]
    pub username: Option<Username>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "patch_field")]
    #[schema(value_type = Option<String>)]
    pub bio: Option<Option<Bio>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "patch_field")]
    #[schema(value_type = Option<Uuid>)]
    pub avatar_file_id: Option<Option<Uuid>>,
}

#[utoipa::path(patch, path = "/v1/users/me", tag = "users", security(("bearer" = [])), request_body = ProfilePatch,
    responses((status = 200, body = UserJson), (status = 409, description = "username_taken", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn update_me(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ProfilePatch>,
) -> Result<Json<UserJson>, ApiError> {
    let (current, _) = load_account(&state, user.user_id).await?.ok_or_else(ApiError::not_found)?;
    let new_name = body.username.as_ref().filter(|name| Some(*name) != current.username.as_ref());
    if let Some(name) = new_name
        && !directory::claim_username(&state.db, name.as_str(), user.user_id).await?
    {
        return Err(ApiError::new(StatusCode::CONFLICT, "username_taken", "this username is taken"));
    }
    let command = UserCommand::UpdateProfile {
        display_name: body.display_name,
        username: body.username.clone(),
        bio: body.bio,
        avatar_file_id: body.avatar_file_id.map(|id| id.map(FileId::from_uuid)),
        at: now(),
    };
    let meta = metadata(&user, &headers);
    let executed = state
        .write
        .users
        .execute_and_read(&user.user_id.to_string(), command, &meta, |u: &User| u.account().cloned())
        .await;
    let account = match executed {
        Ok(executed) => executed.read.ok_or_else(ApiError::not_found)?,
        Err(err) => {
            if let Some(name) = new_name {
                // The claim was taken for this change only: give it back.
                let keep = current.username.as_ref().map(Username::as_str);
                if let Err(release) = directory::release_usernames(&state.db, user.user_id, keep).await {
                    tracing::warn!(error = %release, username = %name, "cannot release a username claim");
                }
            }
            return Err(err.into());
        }
    };
    let keep = account.username.as_ref().map(Username::as_str);
    directory::release_usernames(&state.db, user.user_id, keep).await?;
    directory::upsert(&state.db, &account).await?;
    Ok(Json(UserJson::private(&account)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsJson {
    #[schema(schema_with = super::openapi::last_seen)]
    pub last_seen_visible_to: LastSeenVisibility,
    pub notifications: bool,
}

impl From<Settings> for SettingsJson {
    fn from(settings: Settings) -> Self {
        Self { last_seen_visible_to: settings.last_seen_visible_to, notifications: settings.notifications }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// `everybody`, `contacts` or `nobody`.
    #[schema(schema_with = super::openapi::last_seen_or_null)]
    pub last_seen_visible_to: Option<LastSeenVisibility>,
    pub notifications: Option<bool>,
}

#[utoipa::path(get, path = "/v1/users/me/settings", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = SettingsJson)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn get_settings(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<SettingsJson>, ApiError> {
    let loaded = state.write.users.load(&user.user_id.to_string()).await?;
    if loaded.aggregate.account().is_none() {
        return Err(ApiError::not_found());
    }
    Ok(Json(loaded.aggregate.settings().into()))
}

#[utoipa::path(patch, path = "/v1/users/me/settings", tag = "users", security(("bearer" = [])),
    request_body = SettingsPatch,
    responses((status = 200, body = SettingsJson), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn update_settings(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SettingsPatch>,
) -> Result<Json<SettingsJson>, ApiError> {
    let command = UserCommand::UpdateSettings {
        last_seen_visible_to: body.last_seen_visible_to,
        notifications: body.notifications,
        at: now(),
    };
    let meta = metadata(&user, &headers);
    let executed =
        state.write.users.execute_and_read(&user.user_id.to_string(), command, &meta, User::settings).await?;
    Ok(Json(executed.read.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Username or display-name prefix, case-insensitive.
    pub query: String,
    /// Default 50, 1 to 200.
    #[serde(default)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Limit,
    /// `next` from the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserJson>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next: Option<String>,
}

fn encode_cursor(entry: &directory::Entry) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::json!([entry.sort_name, entry.user_id]).to_string())
}

fn decode_cursor(cursor: &str) -> Option<(String, Uuid)> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[utoipa::path(get, path = "/v1/users", tag = "users", security(("bearer" = [])), params(SearchParams),
    responses((status = 200, body = UserPage), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %_user.user_id))]
pub async fn search(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<UserPage>, ApiError> {
    let query = params.query.trim();
    if query.is_empty() || query.chars().count() > 64 {
        return Err(ciphertalk_domain::ValidationError::new("query", "must be 1 to 64 characters").into());
    }
    let limit = i64::from(params.limit.get());
    let after = match params.cursor.as_deref() {
        None => None,
        Some(cursor) => Some(decode_cursor(cursor).ok_or_else(ApiError::unknown_cursor)?),
    };
    let after_ref = after.as_ref().map(|(name, id)| (name.as_str(), *id));
    let mut entries = directory::search(&state.db, query, after_ref, limit + 1).await?;
    let more = entries.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = if more { entries.last().map(encode_cursor) } else { None };
    Ok(Json(UserPage { items: entries.into_iter().map(UserJson::from_entry).collect(), next }))
}
