//! The consumers of the events topic, as an operator names them (`--consumer`): each has
//! its own queue, dead-letter queue and view of the users in the stack's outputs.

use crate::Outputs;

/// One consumer of the events topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumer {
    /// erp-processor: the ERP.
    Erp,
    /// crm-mirror: the Salesforce-style CRM mirror.
    CrmMirror,
}

/// A consumer's resources in one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    /// Its view of each user (`ErpEmployees`, `CrmMirrorContacts`).
    pub view_table: String,
}

impl Consumer {
    pub const ALL: [Self; 2] = [Self::Erp, Self::CrmMirror];

    /// The name an operator passes (`--consumer erp`), which is also its metrics' binary.
    pub fn name(self) -> &'static str {
        match self {
            Self::Erp => "erp",
            Self::CrmMirror => "crm-mirror",
        }
    }

    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|c| c.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|c| c.name()).collect();
            format!("no consumer {name:?}: use {}", names.join(" or "))
        })
    }

    /// Its queues and view in `outputs`; an error names what the deployment lacks.
    pub fn resources(self, outputs: &Outputs) -> Result<Resources, String> {
        match self {
            Self::Erp => Ok(Resources {
                queue_url: outputs.events_queue_url.clone(),
                dead_letter_queue_url: outputs.dead_letter_queue_url.clone(),
                view_table: outputs.erp_employees_table_name.clone(),
            }),
            Self::CrmMirror => {
                let missing = || "the outputs name no CRM mirror (deploy the stack again to add it)".to_owned();
                Ok(Resources {
                    queue_url: outputs.mirror_queue_url.clone().ok_or_else(missing)?,
                    dead_letter_queue_url: outputs.mirror_dead_letter_queue_url.clone().ok_or_else(missing)?,
                    view_table: outputs.crm_mirror_contacts_table_name.clone().ok_or_else(missing)?,
                })
            }
        }
    }

    /// The consumers `outputs` deploys, the ERP first.
    pub fn deployed(outputs: &Outputs) -> Vec<(Self, Resources)> {
        Self::ALL
            .into_iter()
            .filter_map(|c| c.resources(outputs).ok().map(|r| (c, r)))
            .collect()
    }

    /// `--consumer NAME` at the head of `args`, if given, and the rest: each command chooses
    /// its own default (redrive the ERP's queues, reconcile every consumer).
    pub fn named_in<'a, 'b>(args: &'a [&'b str]) -> Result<(Option<Self>, &'a [&'b str]), String> {
        match args {
            ["--consumer", name, rest @ ..] => Ok((Some(Self::parse(name)?), rest)),
            ["--consumer"] => Err("--consumer needs a name: erp or crm-mirror".to_owned()),
            rest => Ok((None, rest)),
        }
    }

    /// `--consumer NAME` at the head of `args` (the ERP when absent), and the rest.
    pub fn from_args<'a, 'b>(args: &'a [&'b str]) -> Result<(Self, &'a [&'b str]), String> {
        let (named, rest) = Self::named_in(args)?;
        Ok((named.unwrap_or(Self::Erp), rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_MIRROR: &str = r#"{"CrmErp-dev": {
        "CrmApiUrl": "https://a.execute-api.us-east-1.amazonaws.com/prod/api/crm",
        "EventsUrl": "https://a.execute-api.us-east-1.amazonaws.com/prod/events",
        "UsersTableName": "U", "ErpProcessedUsersTableName": "P", "ErpEmployeesTableName": "E",
        "EventsTopicArn": "arn:aws:sns:us-east-1:000000000000:Events",
        "EventsQueueUrl": "http://h/0/Q", "DeadLetterQueueUrl": "http://h/0/D",
        "MirrorQueueUrl": "http://h/0/MQ", "MirrorDeadLetterQueueUrl": "http://h/0/MD",
        "CrmMirrorContactsTableName": "C"}}"#;

    #[test]
    fn each_consumer_names_its_own_queues_and_view() {
        let outputs = Outputs::parse(WITH_MIRROR).unwrap();
        let erp = Consumer::Erp.resources(&outputs).unwrap();
        let mirror = Consumer::CrmMirror.resources(&outputs).unwrap();
        assert_eq!(
            (
                erp.queue_url.as_str(),
                erp.dead_letter_queue_url.as_str(),
                erp.view_table.as_str()
            ),
            ("http://h/0/Q", "http://h/0/D", "E")
        );
        assert_eq!(
            (
                mirror.queue_url.as_str(),
                mirror.dead_letter_queue_url.as_str(),
                mirror.view_table.as_str()
            ),
            ("http://h/0/MQ", "http://h/0/MD", "C")
        );
        assert_eq!(Consumer::deployed(&outputs).len(), 2);
    }

    #[test]
    fn a_stack_without_the_mirror_says_so_and_deploys_the_erp_alone() {
        let mut outputs = Outputs::parse(WITH_MIRROR).unwrap();
        outputs.mirror_queue_url = None;
        assert!(Consumer::CrmMirror
            .resources(&outputs)
            .unwrap_err()
            .contains("no CRM mirror"));
        assert_eq!(
            Consumer::deployed(&outputs)
                .into_iter()
                .map(|(c, _)| c)
                .collect::<Vec<_>>(),
            [Consumer::Erp]
        );
    }

    #[test]
    fn the_consumer_option_comes_first_and_defaults_to_the_erp() {
        assert_eq!(Consumer::from_args(&["list"]), Ok((Consumer::Erp, &["list"][..])));
        assert_eq!(
            Consumer::from_args(&["--consumer", "crm-mirror", "move", "--all"]),
            Ok((Consumer::CrmMirror, &["move", "--all"][..]))
        );
        assert!(Consumer::from_args(&["--consumer", "sap"])
            .unwrap_err()
            .contains("erp or crm-mirror"));
        assert!(Consumer::from_args(&["--consumer"]).is_err());
    }

    #[test]
    fn a_consumer_not_named_is_left_to_the_command() {
        assert_eq!(Consumer::named_in(&["--repair"]), Ok((None, &["--repair"][..])));
        assert_eq!(
            Consumer::named_in(&["--consumer", "erp", "--repair"]),
            Ok((Some(Consumer::Erp), &["--repair"][..]))
        );
        assert!(Consumer::named_in(&["--consumer"])
            .unwrap_err()
            .contains("needs a name"));
    }
}
