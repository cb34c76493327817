//! `GET /v1/openapi.json`: the OpenAPI document, generated from the handlers'
//! `#[utoipa::path]` annotations and the request/response types. A route
//! group joins by adding its handlers to `paths(...)` below. The answers the
//! shared extractors and layers give (401, 400/413/422 for bodies, 404 for
//! path ids, 422 for queries, 429) are added to every operation they apply to
//! here, once, rather than repeated on each handler.

use axum::Json;
use axum::http::Method;
use axum::routing::get;
use ciphertalk_domain::report::{ReportAction, ReportStatus, TargetKind};
use ciphertalk_domain::room::{JoinRule, ReceiptKind, Role, RoomKind};
use ciphertalk_domain::user::{InstanceRole, LastSeenVisibility};
use serde::Serialize;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{Object, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder, schema::SchemaType};
use utoipa::{Modify, OpenApi};

use crate::state::AppState;
use crate::throttle::Action;

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
        super::to_device::send_to_device,
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
        super::files::create,
        super::files::upload_urls,
        super::files::complete,
        super::files::show,
        super::files::delete,
        super::files::upload_chunk,
        super::files::download_chunk,
        super::files::confirm_chunk,
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
        super::reports::file_report,
        super::reports::my_reports,
        super::reports::room_reports,
        super::admin::list_reports,
        super::admin::resolve,
        super::admin::take_down_message,
        super::admin::take_down_file,
        super::admin::set_role,
        super::admin::suspend,
        super::admin::lift_suspension,
        super::push::register_push,
        super::push::unregister_push,
        super::push::vapid_public_key,
        super::push::mute_room,
        super::push::unmute_room,
        super::audit::audit_log,
        super::audit::room_state,
        super::status::status,
        super::webrtc::offer,
        super::webrtc::answer,
        super::webrtc::candidate,
        super::webrtc::playback,
        super::webrtc::turn,
    ),
    modifiers(&BearerAuth, &SharedAnswers),
    tags((name = "auth"), (name = "devices"), (name = "keys"), (name = "users"), (name = "rooms"), (name = "messages"), (name = "contacts"), (name = "delivery"), (name = "files"), (name = "moderation"), (name = "calls"), (name = "notifications"))
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

/// Adds to each operation the error answers of the extractors and layers it
/// passes through, where the handler's annotation does not name them already.
struct SharedAnswers;

impl Modify for SharedAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let operations = [
                (Method::GET, &mut item.get),
                (Method::PUT, &mut item.put),
                (Method::POST, &mut item.post),
                (Method::DELETE, &mut item.delete),
                (Method::PATCH, &mut item.patch),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    add_shared_answers(operation, &method, path);
                }
            }
        }
    }
}

fn add_shared_answers(operation: &mut Operation, method: &Method, path: &str) {
    let has = |place: ParameterIn| {
        operation.parameters.iter().flatten().any(|parameter| parameter.parameter_in == place)
    };
    let (in_path, in_query) = (has(ParameterIn::Path), has(ParameterIn::Query));
    let mut answers = Vec::new();
    if operation.security.as_ref().is_some_and(|security| !security.is_empty()) {
        answers.push(("401", "unauthenticated: no valid bearer access token, or its device was removed"));
    }
    if operation.request_body.is_some() {
        answers.push(("400", "malformed_json: not JSON, or no JSON content type"));
        answers.push(("413", "too_large: over the body limit"));
        answers.push(("422", "invalid_value: a field of the wrong type, missing or not valid"));
    }
    if in_path {
        answers.push(("404", "not_found: an id that does not parse names nothing"));
    }
    if in_query {
        answers.push(("422", "invalid_value (a query value or unknown parameter) or invalid_cursor"));
    }
    if Action::of_route(method, path).is_some() {
        answers.push(("429", "rate_limited; Retry-After says when to try again"));
    }
    let responses = &mut operation.responses.responses;
    for (status, description) in answers {
        responses.entry(status.to_owned()).or_insert_with(|| {
            let body = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
            ResponseBuilder::new().description(description).content("application/json", body).build().into()
        });
    }
}

/// A string schema whose values are the serde names of `variants`, and
/// `null` too when `nullable`.
fn wire_names<T: Serialize>(variants: &[T], nullable: bool) -> Object {
    let mut names: Vec<serde_json::Value> =
        variants.iter().filter_map(|variant| serde_json::to_value(variant).ok()).collect();
    let schema_type = if nullable {
        names.push(serde_json::Value::Null);
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new().schema_type(schema_type).enum_values(Some(names)).build()
}

/// `schema_with` functions for a domain enum (the domain crate knows nothing
/// of OpenAPI): the plain one and the nullable one for optional fields. The
/// match makes a new variant a compile error here until it is listed.
macro_rules! wire_enum {
    ($ty:ident, $plain:ident, $nullable:ident, [$($variant:ident),+]) => {
        #[doc = concat!("The `", stringify!($ty), "` values.")]
        pub fn $plain() -> Object {
            let _listed = |value: $ty| match value { $($ty::$variant)|+ => () };
            wire_names(&[$($ty::$variant),+], false)
        }

        #[doc = concat!("The `", stringify!($ty), "` values or `null`.")]
        pub fn $nullable() -> Object {
            wire_names(&[$($ty::$variant),+], true)
        }
    };
}

wire_enum!(Role, role, role_or_null, [Owner, Admin, Member]);
wire_enum!(RoomKind, room_kind, room_kind_or_null, [Direct, Group]);
wire_enum!(JoinRule, join_rule, join_rule_or_null, [Open, Invite]);
wire_enum!(ReceiptKind, receipt_kind, receipt_kind_or_null, [Delivered, Read]);
wire_enum!(TargetKind, target_kind, target_kind_or_null, [Message, File, User]);
wire_enum!(ReportStatus, report_status, report_status_or_null, [Open, Dismissed, Actioned]);
wire_enum!(ReportAction, report_action, report_action_or_null, [Dismiss, Takedown]);
wire_enum!(InstanceRole, instance_role, instance_role_or_null, [User, Admin]);
wire_enum!(LastSeenVisibility, last_seen, last_seen_or_null, [Everybody, Contacts, Nobody]);

/// A cursor as a client may send it back: the decimal string it was given,
/// or the same number as a JSON integer.
pub fn cursor_input() -> Schema {
    let either = OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[0-9]+$")).examples(["1234"]))
        .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
        .build();
    Schema::OneOf(either)
}

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/v1/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
