//! Human-written and protocol text: names, bios, room settings, client ids,
//! content types and moderation text, each with its length and character rules.

use super::{check, string_value};
use crate::error::ValidationError;

string_value!(
    /// What others see as a user's name: trimmed, 1 to 64 characters, no control characters.
    #[derive(Debug)]
    DisplayName,
    validate_display_name
);

string_value!(
    /// A profile bio: trimmed, at most 500 characters, newlines allowed.
    #[derive(Debug)]
    Bio,
    validate_bio
);

string_value!(
    /// A group room's name: trimmed, 1 to 128 characters, no control characters.
    #[derive(Debug)]
    RoomName,
    validate_room_name
);

string_value!(
    /// A room description: trimmed, at most 1000 characters, newlines allowed.
    #[derive(Debug)]
    RoomDescription,
    validate_room_description
);

string_value!(
    /// The client's own id for a message, used to make sends idempotent:
    /// 1 to 64 printable ASCII characters, taken exactly as sent.
    #[derive(Debug)]
    ClientMsgId,
    validate_client_msg_id
);

string_value!(
    /// Names the server franking key a reporting tag was made with:
    /// 1 to 64 printable ASCII characters.
    #[derive(Debug)]
    FrankingKeyId,
    validate_franking_key_id
);

string_value!(
    /// The MIME type a client declares for a message or file. The server never
    /// looks inside the ciphertext, so this is only a hint: at most 127
    /// printable ASCII characters with a `/`.
    #[derive(Debug)]
    ContentType,
    validate_content_type
);

string_value!(
    /// Why a user reports something: trimmed, 1 to 1000 characters.
    #[derive(Debug)]
    ReportReason,
    validate_report_reason
);

string_value!(
    /// Free-form supporting text attached to a report: at most 10,000 characters.
    #[derive(Debug)]
    ReportEvidence,
    validate_report_evidence
);

string_value!(
    /// A moderator's note when resolving a report: at most 1000 characters.
    #[derive(Debug)]
    ModeratorNote,
    validate_moderator_note
);

impl ContentType {
    /// The type used when a client declares none.
    pub const DEFAULT: &'static str = "application/octet-stream";
}

impl Default for ContentType {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

fn validate_display_name(raw: &str) -> Result<String, ValidationError> {
    let value = raw.trim();
    check::char_len("display_name", value, 1, 64)?;
    check::no_control("display_name", value, false)?;
    Ok(value.to_owned())
}

fn validate_bio(raw: &str) -> Result<String, ValidationError> {
    let value = raw.trim();
    check::char_len("bio", value, 0, 500)?;
    check::no_control("bio", value, true)?;
    Ok(value.to_owned())
}

fn validate_room_name(raw: &str) -> Result<String, ValidationError> {
    let value = raw.trim();
    check::char_len("name", value, 1, 128)?;
    check::no_control("name", value, false)?;
    Ok(value.to_owned())
}

fn validate_room_description(raw: &str) -> Result<String, ValidationError> {
    let value = raw.trim();
    check::char_len("description", value, 0, 1000)?;
    check::no_control("description", value, true)?;
    Ok(value.to_owned())
}

pub(crate) fn printable_ascii_id(field: &'static str, raw: &str) -> Result<String, ValidationError> {
    let valid = (1..=64).contains(&raw.len()) && raw.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if !valid {
        return Err(ValidationError::new(field, "must be 1 to 64 printable ASCII characters"));
    }
    Ok(raw.to_owned())
}

fn validate_client_msg_id(raw: &str) -> Result<String, ValidationError> {
    printable_ascii_id("client_msg_id", raw)
}

fn validate_franking_key_id(raw: &str) -> Result<String, ValidationError> {
    printable_ascii_id("franking_key_id", raw)
}

fn validate_content_type(raw: &str) -> Result<String, ValidationError> {
    let value = raw.trim();
    let valid = (3..=127).contains(&value.len())
        && value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && value.split_once('/').is_some_and(|(kind, sub)| !kind.is_empty() && !sub.is_empty());
    if !valid {
        return Err(ValidationError::new("content_type", "must be a MIME type of at most 127 characters"));
    }
    Ok(value.to_owned())
}

fn validate_report_reason(raw: &str) -> Result<String, ValidationError> {
    let value = raw.trim();
    check::char_len("reason", value, 1, 1000)?;
    check::no_control("reason", value, true)?;
    Ok(value.to_owned())
}

fn validate_report_evidence(raw: &str) -> Result<String, ValidationError> {
    let value = raw.trim();
    check::char_len("evidence", value, 0, 10_000)?;
    check::no_control("evidence", value, true)?;
    Ok(value.to_owned())
}

fn validate_moderator_note(raw: &str) -> Result<String, ValidationError> {
    let value = raw.trim();
    check::char_len("note", value, 0, 1000)?;
    check::no_control("note", value, true)?;
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_name_is_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Alice  ").unwrap().as_str(), "Alice");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{7}b").is_err());
        assert!(DisplayName::parse(&"é".repeat(64)).is_ok(), "counts characters, not bytes");
        assert!(DisplayName::parse(&"é".repeat(65)).is_err());
    }

    #[test]
    fn bio_and_description_allow_newlines_and_empty() {
        assert!(Bio::parse("line one\nline two").is_ok());
        assert!(Bio::parse("").is_ok());
        assert!(Bio::parse(&"x".repeat(501)).is_err());
        assert!(RoomDescription::parse(&"x".repeat(1000)).is_ok());
        assert!(RoomDescription::parse(&"x".repeat(1001)).is_err());
    }

    #[test]
    fn room_name_bounds() {
        assert!(RoomName::parse("").is_err());
        assert!(RoomName::parse(&"n".repeat(128)).is_ok());
        assert!(RoomName::parse(&"n".repeat(129)).is_err());
    }

    #[test]
    fn client_msg_id_is_exact_printable_ascii() {
        assert_eq!(ClientMsgId::parse("tmp-1 ").unwrap().as_str(), "tmp-1 ");
        assert!(ClientMsgId::parse("").is_err());
        assert!(ClientMsgId::parse("é").is_err());
        assert!(ClientMsgId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn content_type_default_and_rules() {
        assert_eq!(ContentType::default().as_str(), "application/octet-stream");
        assert!(ContentType::parse("image/png").is_ok());
        assert!(ContentType::parse("text/plain; charset=utf-8").is_ok());
        assert!(ContentType::parse("png").is_err());
        assert!(ContentType::parse(&format!("a/{}", "b".repeat(126))).is_err());
    }

    #[test]
    fn report_texts() {
        assert!(ReportReason::parse(" ").is_err());
        assert!(ReportReason::parse(&"r".repeat(1000)).is_ok());
        assert!(ReportReason::parse(&"r".repeat(1001)).is_err());
        assert!(ModeratorNote::parse("").is_ok());
        assert!(ReportEvidence::parse(&"e".repeat(10_001)).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn display_names_round_trip_through_json(name in "[^\\p{Cc}\\s][^\\p{Cc}]{0,62}[^\\p{Cc}\\s]") {
            let parsed = DisplayName::parse(&name).unwrap();
            let json = serde_json::to_string(&parsed).unwrap();
            prop_assert_eq!(serde_json::from_str::<DisplayName>(&json).unwrap(), parsed);
        }
    }
}
