//! The headers CipherTalk puts on its messages, beside `Nats-Msg-Id` and
//! `Nats-Expected-Last-Sequence`: few, since every consumer parses each one.

/// CHAT_EVENTS: which shape the payload has.
pub const HEADER_EVENT_VERSION: &str = "Ct-Event-Version";
/// CHAT_EVENTS: where the event stands in the Postgres log (where the relay resumes).
pub const HEADER_LOG_POSITION: &str = "Ct-Log-Position";

/// CHAT_DELIVERY: which event a message carries and for whom,
/// `<CHAT_EVENTS seq>:<user_id>` (where a retried batch resumes).
pub const HEADER_DELIVERY_ID: &str = "Ct-Delivery-Id";
/// CHAT_DELIVERY: the commit time of the domain event (RFC 3339), from which
/// gateways measure delivery latency.
pub const HEADER_RECORDED_AT: &str = "Ct-Recorded-At";
