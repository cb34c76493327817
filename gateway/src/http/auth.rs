//! `/v1/auth/*` and `POST /v1/ws/ticket`: email and phone login, token
//! refresh and logout, the current user, WebSocket tickets. Every session
//! belongs to a device: the first device for a registration, else the one a
//! login names (if the user has it) or a new one.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ciphertalk_domain::user::DeviceName;
use ciphertalk_domain::values::{DisplayName, Email, PhoneNumber};
use ciphertalk_domain::{DeviceId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, AuthUser, ClientIp};
use super::request_id::request_id;
use super::users::{UserJson, load_account};
use crate::auth::accounts::{self, AccountError, PhoneAccount};
use crate::auth::passwords::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};
use crate::auth::phone::{PhoneError, is_code_shaped};
use crate::auth::rate_limit::{Action, LimitError};
use crate::auth::refresh::RefreshError;
use crate::auth::sms::SmsError;
use crate::auth::tickets::{self, TicketError};
use crate::realtime::sessions::{self, Ending};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/register", post(register))
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/me", get(me))
        .route("/v1/auth/phone/start", post(phone_start))
        .route("/v1/auth/phone/verify", post(phone_verify))
        .route("/v1/ws/ticket", post(ws_ticket))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterBody {
    pub email: String,
    /// At least 10 characters.
    pub password: String,
    pub display_name: String,
    /// The first device's name (its id is always the user's first device id).
    #[serde(default)]
    pub device: Option<DeviceBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub device: Option<DeviceBody>,
}

/// The device a session is for.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DeviceBody {
    /// A device of the user's to log in again on; left out (or not the
    /// user's), a new device is created.
    pub device_id: Option<Uuid>,
    /// 1 to 64 characters, e.g. "Alice's phone".
    pub name: Option<String>,
}

impl DeviceBody {
    fn name(&self) -> Result<Option<DeviceName>, ApiError> {
        Ok(self.name.as_deref().map(DeviceName::parse).transpose()?)
    }
}

/// Which device a login's session goes to.
enum SessionDevice {
    /// The first device, made by the registration this login follows.
    First,
    /// What the body asked for.
    Requested(Option<DeviceBody>),
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshBody {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PhoneStartBody {
    /// E.164, e.g. `+4915112345678`.
    pub phone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneStarted {
    pub session_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub attempts_remaining: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PhoneVerifyBody {
    pub session_id: Uuid,
    /// The six digits sent by SMS.
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
    #[serde(default)]
    pub device: Option<DeviceBody>,
}

/// A session: the user, a short-lived access token and the refresh token
/// that replaces it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tokens {
    pub user: UserJson,
    /// The device this session belongs to.
    #[schema(value_type = Uuid)]
    pub device_id: DeviceId,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WsTicket {
    /// Pass as `?ticket=` when opening `GET /v1/ws`; good once.
    pub ticket: String,
    pub expires_at: DateTime<Utc>,
}

fn invalid_credentials() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "wrong email or password")
}

fn invalid_refresh() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
        "the refresh token is not valid; log in again",
    )
}

impl From<LimitError> for ApiError {
    fn from(err: LimitError) -> Self {
        match err {
            LimitError::Limited { retry_after_secs } => {
                let mut error = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many requests; slow down",
                );
                error.retry_after = Some(retry_after_secs);
                error
            }
            LimitError::Database(err) => err.into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::EmailTaken => {
                ApiError::new(StatusCode::CONFLICT, "email_taken", "this email is already registered")
            }
            AccountError::Command(err) => err.into(),
            AccountError::Database(err) => err.into(),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(err: RefreshError) -> Self {
        match err {
            RefreshError::Invalid | RefreshError::Reused { .. } => invalid_refresh(),
            RefreshError::Database(err) => err.into(),
            RefreshError::Random(err) => ApiError::internal(err),
        }
    }
}

impl From<PhoneError> for ApiError {
    fn from(err: PhoneError) -> Self {
        match err {
            PhoneError::Wrong { attempts_remaining } => {
                ApiError::new(StatusCode::UNAUTHORIZED, "wrong_code", "the code is not right")
                    .with_details(serde_json::json!({"attempts_remaining": attempts_remaining}))
            }
            PhoneError::Gone => ApiError::new(
                StatusCode::GONE,
                "login_session_gone",
                "this login session has expired, been used or run out of attempts; start again",
            ),
            PhoneError::Unknown => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such login session"),
            PhoneError::Database(err) => err.into(),
            PhoneError::Random(err) => ApiError::internal(err),
        }
    }
}

impl From<SmsError> for ApiError {
    fn from(err: SmsError) -> Self {
        match err {
            SmsError::Disabled => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "sms_unavailable",
                "phone login is not enabled",
            ),
            err @ SmsError::Webhook(_) => ApiError::unavailable("the SMS sender", err),
        }
    }
}

impl From<TicketError> for ApiError {
    fn from(err: TicketError) -> Self {
        match err {
            TicketError::Database(err) => err.into(),
            TicketError::Random(err) => ApiError::internal(err),
        }
    }
}

fn check_password(password: &str) -> Result<(), ApiError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            format!("password: must be at most {MAX_PASSWORD_BYTES} bytes"),
        )
        .with_details(serde_json::json!({"field": "password"})));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
            format!("password: must be at least {MIN_PASSWORD_CHARS} characters"),
        )
        .with_details(serde_json::json!({"field": "password"})));
    }
    Ok(())
}

/// The answer to a login or refresh: a fresh access token next to the given
/// refresh token.
async fn session(
    state: &AppState,
    user: UserJson,
    is_admin: bool,
    refresh: crate::auth::refresh::Issued,
) -> Result<Tokens, ApiError> {
    let access_token = state
        .auth
        .tokens
        .issue(user.id, is_admin, Some(refresh.family_id), refresh.device_id)
        .map_err(ApiError::internal)?;
    metrics::counter!("ciphertalk_auth_sessions_issued_total").increment(1);
    Ok(Tokens {
        user,
        device_id: refresh.device_id,
        access_token,
        refresh_token: refresh.token,
        expires_in: state.auth.tokens.ttl().as_secs(),
    })
}

/// Logs a known user in: admin grant if configured, the session's device,
/// new refresh family, tokens.
async fn login_user(
    state: &AppState,
    headers: &HeaderMap,
    user_id: UserId,
    device: SessionDevice,
) -> Result<Tokens, ApiError> {
    let loaded =
        accounts::load_for_login(&state.write, &state.auth.admins, request_id(headers), user_id).await?;
    let Some((account, is_admin)) = loaded else { return Err(invalid_credentials()) };
    let device_id = match device {
        SessionDevice::First => DeviceId::first_of(user_id),
        SessionDevice::Requested(body) => {
            let body = body.unwrap_or_default();
            let requested = body.device_id.map(DeviceId::from_uuid);
            let limit = state.config.keys.devices_per_user;
            let login = accounts::device_for_login(
                &state.write,
                request_id(headers),
                user_id,
                requested,
                body.name()?,
                limit,
            )
            .await?;
            if login.added {
                start_at_end(state, user_id, login.id).await?;
            }
            login.id
        }
    };
    let issued = state.auth.refresh.start(user_id, device_id).await?;
    session(state, UserJson::private(&account), is_admin, issued).await
}

/// A new device starts at the end of the user's delivery queue: it receives
/// what comes after it was added, not what the user's other devices received.
async fn start_at_end(state: &AppState, user_id: UserId, device: DeviceId) -> Result<(), ApiError> {
    let realtime = &state.realtime;
    let end = realtime
        .queue
        .latest(user_id, device)
        .await
        .map_err(|e| ApiError::unavailable("the delivery queue", e))?;
    realtime
        .acks
        .acknowledge(user_id, device, end)
        .await
        .map_err(|e| ApiError::unavailable("the database", e))?;
    Ok(())
}

#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterBody,
    responses((status = 201, body = Tokens), (status = 409, description = "email_taken", body = ErrorBody),
        (status = 422, description = "weak_password or invalid_value", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<Tokens>), ApiError> {
    let email = Email::parse(&body.email)?;
    state.auth.limits.check(Action::Register, ip, Some(email.as_str())).await?;
    check_password(&body.password)?;
    let display_name = DisplayName::parse(&body.display_name)?;
    let device_name = body.device.as_ref().map(DeviceBody::name).transpose()?.flatten();
    let hash = state.auth.passwords.hash(body.password).await.map_err(ApiError::internal)?;
    let account = accounts::register_email(
        &state.db,
        &state.write,
        request_id(&headers),
        email,
        hash,
        display_name,
        device_name,
    )
    .await?;
    tracing::info!(user_id = %account.user_id, "registered");
    let tokens = login_user(&state, &headers, account.user_id, SessionDevice::First).await?;
    Ok((StatusCode::CREATED, Json(tokens)))
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = Tokens),
        (status = 401, description = "invalid_credentials (also for an unknown email)", body = ErrorBody),
        (status = 409, description = "device_limit_reached: a new device over the user's limit", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<Tokens>, ApiError> {
    let email = Email::parse(&body.email).ok();
    let account_key = email.as_ref().map_or(body.email.as_str(), Email::as_str);
    state.auth.limits.check(Action::Login, ip, Some(account_key)).await?;
    let credential = match &email {
        Some(email) => accounts::find_by_email(&state.db, email).await?,
        None => None,
    };
    let (user_id, hash) = match credential {
        Some(credential) => (Some(credential.user_id), credential.password_hash),
        None => (None, None),
    };
    // Unknown emails are verified against a dummy hash: same answer, same time.
    let password = if body.password.len() > MAX_PASSWORD_BYTES { String::new() } else { body.password };
    let matches = state.auth.passwords.verify(password, hash).await.map_err(ApiError::internal)?;
    let Some(user_id) = user_id.filter(|_| matches) else {
        metrics::counter!("ciphertalk_auth_login_failures_total").increment(1);
        return Err(invalid_credentials());
    };
    tracing::info!(%user_id, "logged in");
    Ok(Json(login_user(&state, &headers, user_id, SessionDevice::Requested(body.device)).await?))
}

#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses((status = 200, body = Tokens),
        (status = 401, description = "invalid_refresh_token: unknown, expired, revoked or spent (a spent one revokes its family)", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<Tokens>, ApiError> {
    state.auth.limits.check(Action::Refresh, ip, None).await?;
    let family = state.auth.refresh.family_of(&body.refresh_token).await?;
    let family = family.map(|id| id.to_string());
    state.auth.limits.check(Action::Refresh, None, family.as_deref()).await?;
    let issued = match state.auth.refresh.rotate(&body.refresh_token).await {
        Err(RefreshError::Reused { user_id, family_id }) => {
            sessions::end(&state.nats, user_id, Ending::Session(family_id)).await;
            return Err(invalid_refresh());
        }
        issued => issued?,
    };
    let loaded =
        accounts::load_for_login(&state.write, &state.auth.admins, request_id(&headers), issued.user_id)
            .await?;
    let (account, is_admin) = loaded.ok_or_else(invalid_refresh)?;
    tracing::info!(user_id = %issued.user_id, "refreshed");
    Ok(Json(session(&state, UserJson::private(&account), is_admin, issued).await?))
}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = RefreshBody,
    security(("bearer" = [])),
    responses((status = 204, description = "the token's family is revoked, the session's device removed"),
        (status = 401, description = "unauthenticated", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<StatusCode, ApiError> {
    if let Some(session) = state.auth.refresh.revoke(&body.refresh_token, user.user_id).await? {
        sessions::end(&state.nats, user.user_id, Ending::Session(session)).await;
    }
    // Logging out removes the session's device, ending its other sessions too.
    super::devices::remove(&state, &user, &headers, user.device).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserJson), (status = 401, description = "unauthenticated", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<UserJson>, ApiError> {
    let (account, _) = load_account(&state, user.user_id).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(UserJson::private(&account)))
}

#[utoipa::path(post, path = "/v1/auth/phone/start", tag = "auth", request_body = PhoneStartBody,
    responses((status = 202, body = PhoneStarted), (status = 422, description = "invalid_value", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody),
        (status = 503, description = "sms_unavailable", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn phone_start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<PhoneStartBody>,
) -> Result<(StatusCode, Json<PhoneStarted>), ApiError> {
    let phone = PhoneNumber::parse(&body.phone)?;
    state.auth.limits.check(Action::PhoneStart, ip, Some(phone.as_str())).await?;
    let started = state.auth.phone.start(&phone).await?;
    state.auth.sms.send(&phone, &started.code).await?;
    tracing::info!(session_id = %started.session_id, "phone login started");
    Ok((
        StatusCode::ACCEPTED,
        Json(PhoneStarted {
            session_id: started.session_id,
            expires_at: started.expires_at,
            attempts_remaining: started.attempts_remaining,
        }),
    ))
}

#[utoipa::path(post, path = "/v1/auth/phone/verify", tag = "auth", request_body = PhoneVerifyBody,
    responses((status = 200, body = Tokens),
        (status = 401, description = "wrong_code; details.attempts_remaining", body = ErrorBody),
        (status = 404, description = "unknown session", body = ErrorBody),
        (status = 409, description = "device_limit_reached: a new device over the user's limit", body = ErrorBody),
        (status = 410, description = "expired, used, or out of attempts", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(session_id = %body.session_id))]
pub async fn phone_verify(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PhoneVerifyBody>,
) -> Result<Json<Tokens>, ApiError> {
    // The session stands for the phone number here: its attempts are capped
    // anyway, and starting sessions is limited per number.
    state.auth.limits.check(Action::PhoneVerify, ip, Some(&body.session_id.to_string())).await?;
    if !is_code_shaped(&body.code) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            "code: must be 6 digits",
        )
        .with_details(serde_json::json!({"field": "code"})));
    }
    let device_name = body.device.as_ref().map(DeviceBody::name).transpose()?.flatten();
    let phone = state.auth.phone.verify(body.session_id, &body.code).await?;
    let account =
        accounts::find_or_register_phone(&state.db, &state.write, request_id(&headers), phone, device_name)
            .await?;
    let (user_id, device) = match account {
        PhoneAccount::Registered(user_id) => (user_id, SessionDevice::First),
        PhoneAccount::Existing(user_id) => (user_id, SessionDevice::Requested(body.device)),
    };
    tracing::info!(%user_id, "phone login verified");
    Ok(Json(login_user(&state, &headers, user_id, device).await?))
}

#[utoipa::path(post, path = "/v1/ws/ticket", tag = "auth", security(("bearer" = [])),
    responses((status = 201, body = WsTicket), (status = 401, description = "unauthenticated", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn ws_ticket(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<(StatusCode, Json<WsTicket>), ApiError> {
    let holder = tickets::TicketHolder {
        user_id: user.user_id,
        session: user.session,
        device: user.device,
        token_expires_at: Some(user.expires_at),
    };
    let (ticket, expires_at) = tickets::issue(&state.db, holder, state.auth.ticket_ttl).await?;
    Ok((StatusCode::CREATED, Json(WsTicket { ticket, expires_at })))
}
