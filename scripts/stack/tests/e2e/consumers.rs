//! Publish once, consume many: the ERP and the CRM mirror each take every event from a
//! queue of their own, so one's outage or poison record never holds the other back.

use std::time::{Duration, Instant};

use reqwest::Method;
use stack::e2e::SETTINGS;
use stack::smoke::expect;
use test_support::fake_erp::Behaviour;

use crate::support::{eventually, none_reached, unique_email, user_id};
use crate::world::World;

pub async fn isolated(world: &World) -> Result<(), String> {
    erp_down_and_refusing(world).await?;
    crm_down(world).await
}

/// The ERP down, then refusing one user for good: the mirror applies all three meanwhile.
async fn erp_down_and_refusing(world: &World) -> Result<(), String> {
    world.erp.set(Behaviour::Down);
    let during = async {
        let users = create(world, 3, "erp-down").await?;
        // Refused by the ERP whatever its state: poison for it, fine for the mirror.
        world.erp.set_for_user(
            &users[2],
            Behaviour::Status {
                status: 400,
                retry_after: None,
            },
        );
        let started = Instant::now();
        // Well before the ERP's records reach their fifth receive (4 visibility timeouts).
        eventually(
            Duration::from_secs(SETTINGS.visibility_timeout_s * 2),
            "the CRM mirror holding every user while the ERP is down",
            || all_at_version_1(world, &users, Consumer::Mirror),
        )
        .await?;
        println!(
            "      the CRM mirror applied 3 users in {:.1} s with the ERP down",
            started.elapsed().as_secs_f64()
        );
        none_reached(&world.erp, "the ERP", &users)?;
        Ok::<_, String>(users)
    }
    .await;
    world.erp.set(Behaviour::Healthy);
    let users = during?;
    let poison = &users[2];
    let outcome = async {
        eventually(
            Duration::from_secs(60),
            "the ERP's backlog applied once it is back",
            || all_at_version_1(world, &users[..2], Consumer::Erp),
        )
        .await?;
        let limit = Duration::from_secs(SETTINGS.visibility_timeout_s * 5 + 30);
        eventually(
            limit,
            "the refused user's event in the ERP's dead-letter queue",
            || async {
                world
                    .dead_letters()
                    .await
                    .iter()
                    .any(|body| body.contains(poison.as_str()))
                    .then_some(())
            },
        )
        .await?;
        let url = world.user_url(poison)?;
        let got = world.call(Method::GET, &url, None).await?;
        let downstream = &got.body["downstream"];
        expect(
            downstream["erp"]["status"] == "failed" && downstream["crmMirror"]["status"] == "synced",
            || format!("GET of the refused user: downstream {downstream}"),
        )?;
        let mirror_letters = dead_lettered_users(world, world.mirror().dead_letters).await?;
        expect(!mirror_letters.iter().any(|u| users.contains(u)), || {
            "the ERP's outage or refusal put a user in the mirror's dead-letter queue".to_owned()
        })
    }
    .await;
    world.erp.set_for_user(poison, Behaviour::Healthy);
    outcome
}

/// The CRM down: the ERP applies a new user meanwhile, the mirror once the CRM is back.
async fn crm_down(world: &World) -> Result<(), String> {
    world.crm.set(Behaviour::Down);
    let during = async {
        let users = create(world, 2, "crm-down").await?;
        eventually(
            Duration::from_secs(SETTINGS.visibility_timeout_s * 2),
            "the ERP holding every user while the CRM is down",
            || all_at_version_1(world, &users, Consumer::Erp),
        )
        .await?;
        // Until the mirror has tried each user at the down CRM and given its lease back (the
        // lease item of a user it never applied is deleted), so the outage is one it met.
        eventually(
            Duration::from_secs(SETTINGS.visibility_timeout_s * 3),
            "the mirror trying each user at the down CRM and giving its lease back",
            || async {
                for user in &users {
                    if world.crm.calls_for(user).is_empty() || contact_item(world, user).await {
                        return None;
                    }
                }
                Some(())
            },
        )
        .await?;
        none_reached(&world.crm, "the CRM", &users)?;
        Ok::<_, String>(users)
    }
    .await;
    world.crm.set(Behaviour::Healthy);
    let users = during?;
    eventually(
        Duration::from_secs(60),
        "the mirror's backlog applied once the CRM is back",
        || all_at_version_1(world, &users, Consumer::Mirror),
    )
    .await?;
    for user in &users {
        expect(world.crm.employee(user).is_some(), || {
            format!("the fake CRM has no contact {user}")
        })?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Consumer {
    Erp,
    Mirror,
}

async fn create(world: &World, n: usize, tag: &str) -> Result<Vec<String>, String> {
    let mut users = Vec::new();
    for i in 0..n {
        let created = world
            .post_user(&format!("Consumer {tag} {i}"), &unique_email(tag))
            .await?;
        expect(created.status == 201, || {
            format!("POST: {} {}", created.status, created.body)
        })?;
        users.push(user_id(&created.body)?);
    }
    Ok(users)
}

async fn all_at_version_1(world: &World, users: &[String], consumer: Consumer) -> Option<()> {
    for user in users {
        let view = match consumer {
            Consumer::Erp => world.erp_view(user).await,
            Consumer::Mirror => world.mirror_view(user).await,
        };
        view.filter(|v| v.version == 1)?;
    }
    Some(())
}

/// Whether the mirror's view table holds any item for `user` (a view, or a lease alone).
async fn contact_item(world: &World, user: &str) -> bool {
    world
        .dynamo
        .get_item()
        .table_name(world.mirror().contacts)
        .key("UserId", aws_sdk_dynamodb::types::AttributeValue::S(user.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .map_or(true, |out| out.item.is_some())
}

/// The users whose events wait in a dead-letter queue (listing takes none of them).
async fn dead_lettered_users(world: &World, queue: &str) -> Result<Vec<String>, String> {
    ops::redrive::list(&world.sqs, queue)
        .await
        .map(|letters| letters.into_iter().filter_map(|l| l.user_id).collect())
}
