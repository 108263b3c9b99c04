use time::OffsetDateTime;
use uuid::Uuid;

use super::validation::{Collector, FieldError, ValidationErrors};

pub const NAME_MAX_CHARS: usize = 200;
/// RFC 5321's limit on a forward path, the longest address a mail server will accept.
pub const EMAIL_MAX_CHARS: usize = 254;

/// A request field before parsing: absent, present with the wrong JSON type, or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawField<'a> {
    Missing,
    NotText,
    Text(&'a str),
}

impl<'a> RawField<'a> {
    fn text(self, field: &str) -> Result<&'a str, FieldError> {
        match self {
            Self::Missing => Err(FieldError::new(field, "is required")),
            Self::NotText => Err(FieldError::new(field, "must be a string")),
            Self::Text(s) => Ok(s),
        }
    }
}

/// A display name: trimmed, 1–200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 {
            return Err(FieldError::new("name", "must not be blank"));
        }
        if chars > NAME_MAX_CHARS {
            return Err(FieldError::new(
                "name",
                format!("must be at most {NAME_MAX_CHARS} characters"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(FieldError::new("name", "must not contain control characters"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address of valid syntax, at most 254 characters, kept as given except that
/// the domain is lowercased (domains are case-insensitive, local parts need not be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let email = raw.trim();
        if email.is_empty() {
            return Err(FieldError::new("email", "must not be blank"));
        }
        if email.chars().count() > EMAIL_MAX_CHARS {
            return Err(FieldError::new(
                "email",
                format!("must be at most {EMAIL_MAX_CHARS} characters"),
            ));
        }
        if !email_address::EmailAddress::is_valid(email) {
            return Err(FieldError::new("email", "must be a valid email address"));
        }
        // Valid syntax guarantees an '@'; the last one separates the domain, since a
        // quoted local part may itself contain '@'.
        let (local, domain) = email.rsplit_once('@').expect("a valid address has an '@'");
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user that passed validation and has not been stored yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub name: UserName,
    pub email: EmailAddress,
}

impl NewUser {
    /// Parses every field and reports every failure at once.
    pub fn parse(name: RawField<'_>, email: RawField<'_>) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let name = errors.take(name.text("name").and_then(UserName::parse));
        let email = errors.take(email.text("email").and_then(EmailAddress::parse));
        errors.finish()?;
        Ok(Self {
            name: name.expect("no error, so parsed"),
            email: email.expect("no error, so parsed"),
        })
    }
}

/// A stored user. `event_id` is the id of the `UserCreated` event its creation published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub created_at: OffsetDateTime,
    pub event_id: Uuid,
}

impl User {
    pub fn new(id: Uuid, new: NewUser, created_at: OffsetDateTime, event_id: Uuid) -> Self {
        Self {
            id,
            name: new.name.0,
            email: new.email.0,
            created_at,
            event_id,
        }
    }

    /// Whether `new` carries the same data this user was created from.
    pub fn matches(&self, new: &NewUser) -> bool {
        self.name == new.name.as_str() && self.email == new.email.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_is_trimmed_and_bounded() {
        assert_eq!(UserName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert!(UserName::parse(&"é".repeat(200)).is_ok());
        for (raw, case) in [
            ("", "empty"),
            ("   ", "blank"),
            (&*"a".repeat(201), "201 characters"),
            ("Ada\u{0007}", "bell"),
            ("A\nda", "newline inside"),
        ] {
            assert!(UserName::parse(raw).is_err(), "{case}");
        }
    }

    #[test]
    fn email_keeps_local_part_and_lowercases_domain() {
        assert_eq!(
            EmailAddress::parse("Ada.Lovelace@Example.COM").unwrap().as_str(),
            "Ada.Lovelace@example.com"
        );
        for (raw, case) in [
            ("", "empty"),
            ("ada", "no at"),
            ("ada@", "no domain"),
            ("@example.com", "no local part"),
            ("a b@example.com", "space"),
        ] {
            assert!(EmailAddress::parse(raw).is_err(), "{case}");
        }
        let long = format!("{}@example.com", "a".repeat(EMAIL_MAX_CHARS));
        assert!(EmailAddress::parse(&long).is_err(), "over 254 characters");
    }

    #[test]
    fn new_user_lists_every_failing_field() {
        let err = NewUser::parse(RawField::Missing, RawField::NotText).unwrap_err();
        assert_eq!(err.fields().collect::<Vec<_>>(), ["name", "email"]);
    }
}
