//! How people are found and addressed: email, E.164 phone number, username.
//! Each is normalized on parse so that equal addresses compare equal.

use super::string_value;
use crate::error::ValidationError;

string_value!(
    /// An email address: trimmed, lowercased, one `@`, at most 254 characters.
    /// Deliberately not RFC 5322 complete: deliverability is proven by the
    /// confirmation mail, not by a parser.
    #[derive(Debug)]
    Email,
    validate_email
);

string_value!(
    /// A phone number in E.164 form: `+`, then 8 to 15 digits, no leading zero.
    #[derive(Debug)]
    PhoneNumber,
    validate_phone
);

string_value!(
    /// A public handle: 3 to 32 of `[a-z0-9_]`, lowercased on parse. Uniqueness
    /// across users is checked by the caller against the user directory.
    #[derive(Debug)]
    Username,
    validate_username
);

fn validate_email(raw: &str) -> Result<String, ValidationError> {
    const FIELD: &str = "email";
    let email = raw.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 {
        return Err(ValidationError::new(FIELD, "must be 1 to 254 characters"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::new(FIELD, "must not contain spaces or control characters"));
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ValidationError::new(FIELD, "must contain exactly one @"));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(ValidationError::new(FIELD, "the part before @ must be 1 to 64 characters"));
    }
    let labels_ok = domain.split('.').all(|label| !label.is_empty() && !label.starts_with('-'));
    if !domain.contains('.') || !labels_ok {
        return Err(ValidationError::new(FIELD, "the domain is not valid"));
    }
    Ok(email)
}

fn validate_phone(raw: &str) -> Result<String, ValidationError> {
    let phone = raw.trim();
    let digits = phone.strip_prefix('+').unwrap_or_default();
    let valid = phone.starts_with('+')
        && (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !valid {
        return Err(ValidationError::new("phone", "must be E.164: + followed by 8 to 15 digits"));
    }
    Ok(phone.to_owned())
}

fn validate_username(raw: &str) -> Result<String, ValidationError> {
    let username = raw.trim().to_ascii_lowercase();
    let valid = (3..=32).contains(&username.len())
        && username.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(ValidationError::new("username", "must be 3 to 32 of a-z, 0-9 and _"));
    }
    Ok(username)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        let email = Email::parse("  Alice@Example.ORG ").unwrap();
        assert_eq!(email.as_str(), "alice@example.org");
    }

    #[test]
    fn email_rejects_malformed() {
        for bad in
            ["", "alice", "a@b@c.org", "@example.org", "alice@", "alice@localhost", "al ice@x.org", "a@.org"]
        {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn phone_is_e164() {
        assert_eq!(PhoneNumber::parse("+4915112345678").unwrap().as_str(), "+4915112345678");
        for bad in ["4915112345678", "+49 151", "+0123456789", "+1234567", "+1234567890123456", "+12345abc9"]
        {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn username_rules() {
        assert_eq!(Username::parse("Alice_99").unwrap().as_str(), "alice_99");
        for bad in ["ab", "a-b-c", "ålice", &"a".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn deserialize_revalidates() {
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
        let email: Email = serde_json::from_str("\"Bob@Example.org\"").unwrap();
        assert_eq!(email.as_str(), "bob@example.org");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn valid_usernames_round_trip(name in "[a-z0-9_]{3,32}") {
            let username = Username::parse(&name).unwrap();
            let json = serde_json::to_string(&username).unwrap();
            prop_assert_eq!(serde_json::from_str::<Username>(&json).unwrap(), username);
        }

        #[test]
        fn valid_phones_parse(digits in "[1-9][0-9]{7,14}") {
            let phone = format!("+{digits}");
            prop_assert_eq!(PhoneNumber::parse(&phone).unwrap().into_inner(), phone);
        }

        #[test]
        fn normalization_is_idempotent(local in "[A-Za-z0-9._]{1,20}", domain in "[a-z]{1,10}\\.[a-z]{2,5}") {
            let email = Email::parse(&format!("{local}@{domain}")).unwrap();
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email);
        }
    }
}
