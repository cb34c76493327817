//! `GET /v1/openapi.json`: the OpenAPI document, generated from the handlers'
//! `#[utoipa::path]` annotations and the request/response types. A route
//! group joins by adding its handlers to `paths(...)` below.

use axum::Json;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "CipherTalk API", version = "1", description = "End-to-end-encrypted chat. Errors: `{\"error\": {\"code\", \"message\", \"details\"}}`."),
    paths(
        super::auth::register,
        super::auth::login,
        super::auth::refresh,
        super::auth::logout,
        super::auth::me,
        super::auth::phone_start,
        super::auth::phone_verify,
        super::auth::ws_ticket,
        super::devices::list_devices,
        super::devices::rename_device,
        super::devices::remove_device,
        super::devices::user_devices,
        super::keys::publish,
        super::keys::add_one_time,
        super::keys::count,
        super::keys::bundle,
        super::keys::device_bundle,
        super::users::get_user,
        super::users::update_me,
        super::users::get_settings,
        super::users::update_settings,
        super::users::search,
        super::rooms::create,
        super::rooms::list,
        super::rooms::show,
        super::rooms::update,
        super::rooms::join,
        super::rooms::leave,
        super::rooms::put_member,
        super::rooms::remove_member,
        super::messages::send,
        super::messages::list,
        super::messages::edit,
        super::messages::delete,
        super::messages::receipt,
        super::contacts::list_contacts,
        super::contacts::add_contact,
        super::contacts::remove_contact,
        super::contacts::list_blocks,
        super::contacts::block,
        super::contacts::unblock,
        super::inbox::list,
        super::inbox::ack,
    ),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "devices"), (name = "keys"), (name = "users"), (name = "rooms"), (name = "messages"), (name = "contacts"), (name = "delivery"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/v1/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
