use time::OffsetDateTime;
use uuid::Uuid;

use super::validation::{deliverable, Collector, FieldError, ValidationErrors};

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
        deliverable(name, "name")?;
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
        deliverable(email, "email")?;
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

/// A change to a user (a JSON merge patch of `name` and `email`): each field absent (kept)
/// or valid; `null` would remove a field every user has, so it is refused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserPatch {
    pub name: Option<UserName>,
    pub email: Option<EmailAddress>,
}

/// A patch field before parsing: like `RawField`, plus `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchField<'a> {
    Absent,
    Null,
    Present(RawField<'a>),
}

impl UserPatch {
    /// Parses every field and reports every failure at once.
    pub fn parse(name: PatchField<'_>, email: PatchField<'_>) -> Result<Self, ValidationErrors> {
        fn field<T>(
            raw: PatchField<'_>,
            key: &str,
            parse: impl Fn(&str) -> Result<T, FieldError>,
        ) -> Result<Option<T>, FieldError> {
            match raw {
                PatchField::Absent => Ok(None),
                PatchField::Null => Err(FieldError::new(key, "cannot be removed")),
                PatchField::Present(raw) => raw.text(key).and_then(parse).map(Some),
            }
        }
        let mut errors = Collector::default();
        let name = errors.take(field(name, "name", UserName::parse));
        let email = errors.take(field(email, "email", EmailAddress::parse));
        errors.finish()?;
        Ok(Self {
            name: name.expect("no error, so parsed"),
            email: email.expect("no error, so parsed"),
        })
    }
}

/// A stored user. `event_id` is the id of the `UserCreated` event its creation published;
/// `version` is 1 on creation and one more per change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub created_at: OffsetDateTime,
    pub event_id: Uuid,
    pub version: u64,
}

impl User {
    pub fn new(id: Uuid, new: NewUser, created_at: OffsetDateTime, event_id: Uuid) -> Self {
        Self {
            id,
            name: new.name.0,
            email: new.email.0,
            created_at,
            event_id,
            version: 1,
        }
    }

    /// Whether `new` carries the same data this user holds.
    pub fn matches(&self, new: &NewUser) -> bool {
        self.name == new.name.as_str() && self.email == new.email.as_str()
    }
}

impl UserPatch {
    /// The name and email after the patch, from `name` and `email`; `None` when it changes
    /// neither.
    pub fn apply(&self, name: &str, email: &str) -> Option<(String, String)> {
        let new_name = self.name.as_ref().map_or(name, UserName::as_str);
        let new_email = self.email.as_ref().map_or(email, EmailAddress::as_str);
        (new_name != name || new_email != email).then(|| (new_name.to_owned(), new_email.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validation::UNDELIVERABLE_RULE;

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
        assert!(
            UserName::parse("Ada\u{FFFD}").is_ok(),
            "the replacement character travels"
        );
        for raw in ["Ada\u{FFFF}", "\u{FFFE}Ada"] {
            let error = UserName::parse(raw).unwrap_err();
            assert_eq!(
                (error.field.as_str(), error.message.as_str()),
                ("name", UNDELIVERABLE_RULE)
            );
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
        let error = EmailAddress::parse("\"ada\u{FFFF}\"@example.com").unwrap_err();
        assert_eq!(
            (error.field.as_str(), error.message.as_str()),
            ("email", UNDELIVERABLE_RULE)
        );
        let long = format!("{}@example.com", "a".repeat(EMAIL_MAX_CHARS));
        assert!(EmailAddress::parse(&long).is_err(), "over 254 characters");
    }

    #[test]
    fn a_patch_changes_what_it_names_and_nothing_else() {
        let user = User::new(
            Uuid::new_v4(),
            NewUser::parse(RawField::Text("Ada"), RawField::Text("ada@example.com")).unwrap(),
            OffsetDateTime::UNIX_EPOCH,
            Uuid::new_v4(),
        );
        let rename = UserPatch::parse(PatchField::Present(RawField::Text(" Ada L. ")), PatchField::Absent).unwrap();
        assert_eq!(
            rename.apply(&user.name, &user.email),
            Some(("Ada L.".to_owned(), "ada@example.com".to_owned()))
        );
        assert_eq!(
            UserPatch::default().apply(&user.name, &user.email),
            None,
            "an empty patch"
        );
        let same = UserPatch::parse(
            PatchField::Absent,
            PatchField::Present(RawField::Text("ada@EXAMPLE.com")),
        )
        .unwrap();
        assert_eq!(
            same.apply(&user.name, &user.email),
            None,
            "the same address, as it is stored"
        );
    }

    #[test]
    fn a_patch_lists_every_failing_field() {
        let err = UserPatch::parse(PatchField::Null, PatchField::Present(RawField::Text("nope"))).unwrap_err();
        assert_eq!(err.fields().collect::<Vec<_>>(), ["name", "email"]);
        assert!(UserPatch::parse(PatchField::Present(RawField::NotText), PatchField::Absent).is_err());
    }

    #[test]
    fn new_user_lists_every_failing_field() {
        let err = NewUser::parse(RawField::Missing, RawField::NotText).unwrap_err();
        assert_eq!(err.fields().collect::<Vec<_>>(), ["name", "email"]);
    }
}
