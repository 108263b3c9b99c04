use crate::helpers::{post_user, spawn_stack};

#[tokio::test]
async fn a_relay_racing_a_late_api_send_yields_one_record_and_no_mark() {
    let stack = spawn_stack().await;
    for round in 0..5 {
        let key = format!("race-{round}");
        let (status, user_id) = post_user(&stack.crm_without_queue().await, "Ada", Some(&key)).await;
        assert_eq!(status, 201);
        assert!(stack.users.has_pending(user_id).await.unwrap());

        // The client's retry (which sends the pending event again) and a relay run, at once.
        let relay = stack.relay();
        let ((retry_status, _), report) = tokio::join!(
            post_user(&stack.crm, "Ada", Some(&key)),
            relay.run(user_sync::events::now_utc_millis())
        );
        assert_eq!(retry_status, 201);
        report.unwrap();

        assert!(
            !stack.users.has_pending(user_id).await.unwrap(),
            "round {round}: no mark left behind"
        );
        stack.drain_queue_into_processor().await;
        let processed = stack.processed_by_user().await;
        assert_eq!(
            processed[&user_id.to_string()].len(),
            1,
            "round {round}: one record downstream"
        );
    }
}
