//! The ERP side of a processed event: the employee record a CRM user becomes in the ERP.

/// The ERP system name when `ERP_SYSTEM_NAME` is unset, as the original.
pub const DEFAULT_ERP_SYSTEM: &str = "OracleFusion";

/// How many characters of the user id the ERP employee id keeps, as the original.
const USER_ID_PREFIX_CHARS: usize = 8;

/// The employee record of a user in the ERP. Its id derives from the user id alone, so
/// a repeated integration of the same user addresses the same record (an upsert, never a
/// second employee).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErpEmployee {
    /// `EMP-` and the first 8 characters of the user id.
    pub record_id: String,
    pub user_id: String,
    /// The ERP the record lives in, e.g. `OracleFusion`.
    pub system: String,
}

impl ErpEmployee {
    pub fn for_user(user_id: &str, system: &str) -> Self {
        Self {
            record_id: employee_record_id(user_id),
            user_id: user_id.to_owned(),
            system: system.to_owned(),
        }
    }
}

/// `EMP-` and the first 8 characters of `user_id` (all of it when shorter: the original
/// threw on ids under 8 characters; ours are UUIDs, but the event's id is only "non-blank").
/// Counts characters, not bytes, so a non-ASCII id never splits a character.
pub fn employee_record_id(user_id: &str) -> String {
    let prefix: String = user_id.chars().take(USER_ID_PREFIX_CHARS).collect();
    format!("EMP-{prefix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn employee_id_is_emp_and_the_first_eight_characters() {
        for (user_id, expected, case) in [
            ("3f2b8c1a-9d4e-4f6a-8b7c-0e1d2f3a4b5c", "EMP-3f2b8c1a", "uuid"),
            ("user-123", "EMP-user-123", "exactly eight"),
            ("u1", "EMP-u1", "shorter than eight"),
            ("ééééééééé", "EMP-éééééééé", "multi-byte characters"),
        ] {
            assert_eq!(employee_record_id(user_id), expected, "{case}");
        }
    }

    #[test]
    fn maps_a_user_to_the_named_system() {
        let employee = ErpEmployee::for_user("3f2b8c1a-9d4e", DEFAULT_ERP_SYSTEM);
        assert_eq!(
            employee,
            ErpEmployee {
                record_id: "EMP-3f2b8c1a".to_owned(),
                user_id: "3f2b8c1a-9d4e".to_owned(),
                system: "OracleFusion".to_owned(),
            }
        );
    }
}
