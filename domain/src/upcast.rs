//! Event upcasting: how events stored in an older shape are lifted to the
//! current one while loading, so aggregates and projections only ever see
//! current events.
//!
//! When an event's shape changes: bump that event's version, freeze a golden
//! fixture of the old form, and add a [`VariantUpcaster`] here that rewrites
//! the old payload, tested against the frozen fixture (the tests below show
//! the pattern on a hypothetical `MessageSent` version 0).
//!
//! Today's chain: the user events that name a device (version 2) are lifted
//! from version 1, written before devices existed, onto the user's first
//! device, whose id is derived from the aggregate id ([`DeviceId::first_of`]);
//! the file events with chunk digests (version 2) from version 1, which had
//! none ([`crate::file::upcasters`]).

use std::fmt;
use std::str::FromStr;

use cqrs_es::persist::{EventUpcaster, SemanticVersion, SemanticVersionError, SerializedEvent};
use serde_json::{Map, Value};

use crate::ids::{DeviceId, UserId};
use crate::user::DEVICE_EVENT_VERSION;

/// The upcasters for every aggregate's events, oldest version first (event
/// type names are unique across aggregates, so one list serves all stores).
/// Pass to `PersistedEventStore::with_upcasters`, and to [`upcast`] wherever
/// events are read outside cqrs-es (the JetStream consumers).
#[must_use]
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    let mut chain = user_events_onto_their_first_device();
    chain.extend(crate::file::upcasters());
    chain
}

/// Version 1 of these user events predates devices: each moves to the
/// user's first device, and a registration names it as the device it was
/// made on (unnamed).
fn user_events_onto_their_first_device() -> Vec<Box<dyn EventUpcaster>> {
    ["UserRegistered", "KeysPublished", "OneTimePrekeysAdded", "OneTimePrekeyClaimed"]
        .into_iter()
        .filter_map(|event_type| {
            VariantUpcaster::per_aggregate(
                event_type,
                DEVICE_EVENT_VERSION,
                move |aggregate_id, mut fields| {
                    // An id that is no user id is left for deserialization to reject.
                    if let Ok(user) = aggregate_id.parse::<UserId>() {
                        fields.insert(
                            "device_id".to_owned(),
                            Value::String(DeviceId::first_of(user).to_string()),
                        );
                    }
                    if event_type == "UserRegistered" {
                        fields.entry("device_name").or_insert(Value::Null);
                    }
                    fields
                },
            )
            .ok()
        })
        .map(|upcaster| Box::new(upcaster) as Box<dyn EventUpcaster>)
        .collect()
}

/// Runs `event` through `upcasters` in order, as cqrs-es does when loading.
#[must_use]
pub fn upcast(event: SerializedEvent, upcasters: &[Box<dyn EventUpcaster>]) -> SerializedEvent {
    upcasters.iter().fold(event, |event, upcaster| {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            upcaster.upcast(event)
        } else {
            event
        }
    })
}

/// Rewrites an event's fields, given the id of the aggregate it belongs to.
type FieldsFn = dyn Fn(&str, Map<String, Value>) -> Map<String, Value> + Send + Sync;

/// Lifts one event type from any version below `to_version` to `to_version`
/// by rewriting the variant's fields.
///
/// Stored payloads are externally tagged (`{"MessageSent": {...}}`); this
/// unwraps the tag, hands the inner fields to the rewrite, and wraps them
/// again, so a rewrite only deals with the fields.
pub struct VariantUpcaster {
    event_type: &'static str,
    version: SemanticVersion,
    version_label: String,
    rewrite: Box<FieldsFn>,
}

impl VariantUpcaster {
    /// An upcaster for `event_type` to `to_version` (e.g. "2").
    pub fn new(
        event_type: &'static str,
        to_version: &str,
        rewrite: impl Fn(Map<String, Value>) -> Map<String, Value> + Send + Sync + 'static,
    ) -> Result<Self, SemanticVersionError> {
        Self::per_aggregate(event_type, to_version, move |_, fields| rewrite(fields))
    }

    /// An upcaster whose rewrite also reads the aggregate id (for a field
    /// derived from it that the old form left implicit).
    pub fn per_aggregate(
        event_type: &'static str,
        to_version: &str,
        rewrite: impl Fn(&str, Map<String, Value>) -> Map<String, Value> + Send + Sync + 'static,
    ) -> Result<Self, SemanticVersionError> {
        Ok(Self {
            event_type,
            version: SemanticVersion::from_str(to_version)?,
            version_label: to_version.to_owned(),
            rewrite: Box::new(rewrite),
        })
    }
}

impl fmt::Debug for VariantUpcaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VariantUpcaster")
            .field("event_type", &self.event_type)
            .field("to_version", &self.version_label)
            .finish_non_exhaustive()
    }
}

impl EventUpcaster for VariantUpcaster {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        event_type == self.event_type
            && SemanticVersion::from_str(event_version).is_ok_and(|version| self.version.supersedes(&version))
    }

    fn upcast(&self, mut event: SerializedEvent) -> SerializedEvent {
        let Value::Object(outer) = &mut event.payload else {
            // Not the shape we know: leave it alone and let deserialization report it.
            return event;
        };
        let Some(Value::Object(fields)) = outer.get_mut(self.event_type) else {
            return event;
        };
        *fields = (self.rewrite)(&event.aggregate_id, std::mem::take(fields));
        event.event_version.clone_from(&self.version_label);
        event
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::room::RoomEvent;

    /// The pattern for a real upcaster: a hypothetical version 0 of
    /// `MessageSent` named the sender `sender` and had no `content_type` or
    /// `file_ids`. Version 1 renamed the field and added defaults.
    fn message_sent_v0_to_v1() -> VariantUpcaster {
        VariantUpcaster::new("MessageSent", "1", |mut fields| {
            if let Some(sender) = fields.remove("sender") {
                fields.insert("sender_id".to_owned(), sender);
            }
            fields.entry("content_type").or_insert_with(|| json!("application/octet-stream"));
            fields.entry("file_ids").or_insert_with(|| json!([]));
            fields
        })
        .unwrap()
    }

    fn serialized(event_type: &str, version: &str, payload: Value) -> SerializedEvent {
        SerializedEvent::new(
            "00000000-0000-0000-0000-0000000000aa".to_owned(),
            7,
            "room".to_owned(),
            event_type.to_owned(),
            version.to_owned(),
            payload,
            json!({}),
        )
    }

    fn v0_payload() -> Value {
        json!({"MessageSent": {
            "message_id": "00000000-0000-0000-0000-000000000001",
            "seq": 7,
            "sender": "00000000-0000-0000-0000-000000000002",
            "client_msg_id": "c-1",
            "ciphertext": "aGVsbG8=",
            "sent_at": "2026-01-02T03:04:05Z"
        }})
    }

    #[test]
    fn upcaster_selects_only_older_versions_of_its_event() {
        let upcaster = message_sent_v0_to_v1();
        assert!(upcaster.can_upcast("MessageSent", "0"));
        assert!(upcaster.can_upcast("MessageSent", "0.9"));
        assert!(!upcaster.can_upcast("MessageSent", "1"));
        assert!(!upcaster.can_upcast("MessageSent", "2"));
        assert!(!upcaster.can_upcast("MessageEdited", "0"));
        assert!(!upcaster.can_upcast("MessageSent", "garbage"));
    }

    #[test]
    fn v0_message_sent_loads_as_current_event() {
        let chain: Vec<Box<dyn EventUpcaster>> = vec![Box::new(message_sent_v0_to_v1())];
        let event = upcast(serialized("MessageSent", "0", v0_payload()), &chain);
        assert_eq!(event.event_version, "1");
        assert_eq!(event.sequence, 7, "envelope fields are kept");
        let RoomEvent::MessageSent { sender_id, content_type, file_ids, reply_to, .. } =
            serde_json::from_value::<RoomEvent>(event.payload).unwrap()
        else {
            panic!("not a MessageSent");
        };
        assert_eq!(sender_id.to_string(), "00000000-0000-0000-0000-000000000002");
        assert_eq!(content_type.as_str(), "application/octet-stream");
        assert!(file_ids.is_empty());
        assert_eq!(reply_to, None);
    }

    #[test]
    fn current_events_pass_through_untouched() {
        let chain: Vec<Box<dyn EventUpcaster>> = vec![Box::new(message_sent_v0_to_v1())];
        let current = serialized("MessageSent", "1", json!({"MessageSent": {"sender_id": "x"}}));
        assert_eq!(upcast(current.clone(), &chain), current);
        assert_eq!(upcast(current.clone(), &upcasters()), current);
        let registered = serialized("UserRegistered", "2", json!({"UserRegistered": {"device_id": "x"}}));
        assert_eq!(upcast(registered.clone(), &upcasters()), registered);
    }

    #[test]
    fn unknown_shapes_are_left_for_deserialization_to_reject() {
        let odd = serialized("MessageSent", "0", json!(["not", "an", "object"]));
        assert_eq!(message_sent_v0_to_v1().upcast(odd.clone()), odd);
    }

    #[test]
    fn the_user_events_before_devices_are_lifted_onto_the_first_device() {
        let chain = upcasters();
        let lifted = ["UserRegistered", "KeysPublished", "OneTimePrekeysAdded", "OneTimePrekeyClaimed"];
        let user_upcasters =
            chain.iter().filter(|upcaster| lifted.iter().any(|t| upcaster.can_upcast(t, "1")));
        assert_eq!(user_upcasters.count(), lifted.len(), "no upcaster was dropped");
        for event_type in lifted {
            assert!(chain.iter().any(|upcaster| upcaster.can_upcast(event_type, "1")), "{event_type}");
            assert!(!chain.iter().any(|upcaster| upcaster.can_upcast(event_type, "2")), "{event_type}");
        }
        let user = "00000000-0000-0000-0000-0000000a11ce";
        let old = SerializedEvent::new(
            user.to_owned(),
            2,
            "user".to_owned(),
            "OneTimePrekeysAdded".to_owned(),
            "1".to_owned(),
            json!({"OneTimePrekeysAdded": {"keys": [], "at": "2026-01-02T03:04:05Z"}}),
            json!({}),
        );
        let first = DeviceId::first_of(user.parse().unwrap()).to_string();
        assert_eq!(upcast(old, &chain).payload["OneTimePrekeysAdded"]["device_id"], json!(first));
        let mut foreign =
            serialized("OneTimePrekeysAdded", "1", json!({"OneTimePrekeysAdded": {"keys": []}}));
        foreign.aggregate_id = "not-a-user".to_owned();
        let left = upcast(foreign, &chain);
        assert!(left.payload["OneTimePrekeysAdded"].get("device_id").is_none(), "not a user id: left alone");
    }

    #[test]
    fn invalid_target_version_is_an_error_not_a_panic() {
        assert!(VariantUpcaster::new("MessageSent", "one", |fields| fields).is_err());
    }
}
