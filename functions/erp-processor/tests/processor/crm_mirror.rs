//! The CRM mirror: the consumer core with the Salesforce-style connector, against a mock
//! CRM (wiremock) and real tables.

use std::sync::Arc;
use std::time::Duration;

use erp_processor::downstream::{RecordShape, CRM_MIRROR};
use erp_processor::erp::credentials::Token;
use erp_processor::erp::{CallLog, HttpErp, HttpErpSettings};
use erp_processor::App;
use serde_json::json;
use user_sync::domain::EmployeeState;
use user_sync::store::ErpEmployeesTable;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{event, spawn_app_with};

const TOKEN: &str = "crm-token-7c1e";

#[tokio::test]
async fn the_mirror_upserts_a_contact_by_external_id_once_and_deletes_it() {
    let crm = MockServer::start().await;
    let user_id = test_support::unique("user");
    let contact = format!("/services/data/v60.0/sobjects/Contact/CrmUserId__c/{user_id}");
    // `expect`: verified when the server drops, so a second call of either fails the test.
    Mock::given(method("PATCH"))
        .and(path(contact.as_str()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("idempotency-key", "evt-mirror-created"))
        .and(body_json(
            json!({"LastName": "Grace Hopper", "Email": "grace.hopper@example.com"}),
        ))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&crm)
        .await;
    // Salesforce answers 404 to a contact already gone: the deletion holds.
    Mock::given(method("DELETE"))
        .and(path(contact.as_str()))
        .and(header("idempotency-key", "evt-mirror-deleted"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&crm)
        .await;

    let mut app = spawn_app_with(|config| {
        config.downstream = &CRM_MIRROR;
        config.erp_system = CRM_MIRROR.default_system.to_owned();
    })
    .await;
    let calls = Arc::new(CallLog::default());
    let settings = HttpErpSettings {
        endpoint: url::Url::parse(&format!("{}/services/data/v60.0/", crm.uri())).unwrap(),
        call_timeout: Duration::from_secs(2),
        max_attempts: 1,
        record: CRM_MIRROR.record,
        service: CRM_MIRROR.service,
    };
    assert_eq!(settings.record, RecordShape::Contact);
    let http = HttpErp::new(settings, Token::new(TOKEN), None, calls.clone()).unwrap();
    let aws = test_support::emulator().sdk_config().await;
    app.app = App::with_erp(&aws, &app.config, Arc::new(http), calls, Duration::from_secs(10));
    assert_eq!(app.app.service, "crm-mirror");

    let created = event("evt-mirror-created", &user_id).to_string();
    // A redelivery: the core's claim absorbs it, the CRM sees one call.
    assert!(app.send_batch(&[("m-1", Some(created.clone()))]).await.is_empty());
    assert!(app.send_batch(&[("m-2", Some(created))]).await.is_empty());
    let deleted = json!({"eventId": "evt-mirror-deleted", "eventType": "UserDeleted", "version": 2,
                         "timestamp": "2026-03-02T09:16:00Z", "user": {"id": user_id}});
    assert!(app.send_batch(&[("m-3", Some(deleted.to_string()))]).await.is_empty());

    let view = ErpEmployeesTable::new(app.dynamo.clone(), &app.config.employees_table);
    let state = view.sync_state(&user_id).await.unwrap();
    let view = state.view.expect("the mirror's view");
    assert_eq!((view.version, view.state), (2, EmployeeState::Deleted));
    assert_eq!(
        view.erp_record_id, user_id,
        "a contact is named by its external id, the user id"
    );
    assert_eq!(view.erp_system, "Salesforce");
}
