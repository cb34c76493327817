//! Each provider against a real HTTP server: Web Push (VAPID + RFC 8291),
//! FCM HTTP v1 with its OAuth token, and a webhook that fails, then recovers.

use std::process::Command;

use super::*;

#[tokio::test]
async fn web_push_is_signed_with_vapid_and_encrypted_to_the_subscription() {
    let inbox = Inbox::start().await;
    let app = spawn_app().config(push_config).await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    let subscription = Subscription::new();
    register(&app, &bob, subscription.json(&inbox.url("/wp/bob"))).await;

    let seq = send(&app, &alice, &room).await;
    let push = inbox.wait_delivered("/wp/bob", 1).await.remove(0);

    let (_, vapid) = app.get(&alice.person, "/v1/push/vapid-public-key").await;
    let token = assert_web_push(&push, vapid["public_key"].as_str().unwrap(), &inbox.base);
    // A token for another origin is refused by the same check.
    assert!(vapid_claims(&token, vapid["public_key"].as_str().unwrap(), "https://push.example.org").is_err());

    // Only the subscription's private key opens the payload.
    let payload = subscription.open(&push).unwrap();
    assert_payload(&payload, &room);
    assert_eq!((payload["count"].as_u64(), payload["first_seq"].as_u64()), (Some(1), Some(seq)));
    assert!(Subscription::new().open(&push).is_none());
}

#[tokio::test]
async fn a_subscription_the_push_service_reports_gone_is_removed() {
    let inbox = Inbox::start().await;
    let app = spawn_app().config(push_config).await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    register(&app, &bob, Subscription::new().json(&inbox.url("/wp/bob"))).await;
    inbox.fail_next(&[410]);

    send(&app, &alice, &room).await;
    assert!(eventually(30, || async { !inbox.received("/wp/bob").is_empty() }).await);
    let removed = unregistered(&app, &bob).await;
    assert!(removed, "the gone subscription is still registered");
    let device: ciphertalk_domain::DeviceId = bob.device.parse().unwrap();
    let kept = app
        .write()
        .users
        .read(&bob.person.id.to_string(), |u| u.devices().get(device).cloned())
        .await
        .unwrap();
    assert_eq!(kept.map(|device| device.push), Some(None), "the User aggregate forgot the target too");

    // Nothing more goes there.
    send(&app, &alice, &room).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(inbox.received("/wp/bob").len(), 1);
    assert!(inbox.delivered("/wp/bob").is_empty());
}

/// Waits until `who` has no push registration left in the read model.
async fn unregistered(app: &TestApp, who: &Member) -> bool {
    eventually(30, || async {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM push_registrations WHERE user_id = $1")
            .bind(who.person.id.as_uuid())
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        left == 0
    })
    .await
}

/// An RSA key pair made by openssl: the PKCS#8 private PEM and the public PEM.
fn rsa_key_pair(dir: &std::path::Path) -> (String, Vec<u8>) {
    let private = dir.join("key.pem");
    let made = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&private)
        .status()
        .unwrap();
    assert!(made.success());
    let public = Command::new("openssl").args(["pkey", "-pubout", "-in"]).arg(&private).output().unwrap();
    assert!(public.status.success());
    (std::fs::read_to_string(&private).unwrap(), public.stdout)
}

#[tokio::test]
async fn fcm_gets_one_oauth_token_and_the_v1_messages_and_forgets_unregistered_tokens() {
    let inbox = Inbox::start().await;
    let dir = temp_dir("fcm");
    let (private_pem, public_pem) = rsa_key_pair(dir.path());
    let client_email = "pusher@ciphertalk-test.iam.gserviceaccount.com".to_owned();
    let account = dir.path().join("service-account.json");
    let token_uri = inbox.url("/token");
    std::fs::write(
        &account,
        json!({"type": "service_account", "project_id": "ciphertalk-test", "private_key_id": "k1",
               "private_key": private_pem, "client_email": client_email, "token_uri": token_uri})
        .to_string(),
    )
    .unwrap();
    *inbox.state.oauth.lock().unwrap() = Some(OAuth {
        public_pem,
        client_email,
        token_uri,
        access_token: "ya29.test-access-token".into(),
        gone_tokens: vec!["carol-gone:token".into()],
    });
    let base = inbox.base.clone();
    let app = spawn_app()
        .config(push_config)
        .config(move |config| {
            config.push.fcm_service_account = Some(account.clone());
            config.push.fcm_base_url = base.clone();
        })
        .await;
    let (alice, bob, carol) =
        (member(&app, "Alice").await, member(&app, "Bob").await, member(&app, "Carol").await);
    let room = app.group(&alice.person, &[&bob.person, &carol.person]).await;
    register(&app, &bob, json!({"platform": "fcm", "token": "bob-phone:APA91b_token-1"})).await;
    register(&app, &carol, json!({"platform": "fcm", "token": "carol-gone:token"})).await;

    let first = send(&app, &alice, &room).await;
    inbox.wait_delivered("/fcm", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = send(&app, &alice, &room).await;
    let sent = inbox.wait_delivered("/fcm", 2).await;

    let seqs: Vec<String> = sent
        .iter()
        .map(|push| {
            let message = &push.json()["message"];
            assert_eq!(message["token"], "bob-phone:APA91b_token-1");
            // FCM data values are strings; nothing but the room, count and seq.
            let data = message["data"].as_object().unwrap();
            assert_eq!(data.keys().collect::<Vec<_>>(), ["count", "first_seq", "room_id"]);
            assert_eq!((data["room_id"].as_str(), data["count"].as_str()), (Some(room.as_str()), Some("1")));
            data["first_seq"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(seqs, [first.to_string(), second.to_string()]);
    assert_eq!(inbox.received("/token").len(), 1, "the access token is cached until it expires");

    // Carol's token is UNREGISTERED: tried once, then removed.
    let removed = unregistered(&app, &carol).await;
    assert!(removed);
    let to_carol =
        inbox.received("/fcm").iter().filter(|r| r.json()["message"]["token"] == "carol-gone:token").count();
    assert_eq!(to_carol, 1, "an unregistered token is not retried");
}

#[tokio::test]
async fn a_webhook_that_fails_then_recovers_gets_every_message_exactly_once() {
    let inbox = Inbox::start().await;
    let app = spawn_app().config(push_config).await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    register_webhook(&app, &bob, &inbox.url("/hook/bob")).await;
    inbox.fail_next(&[503, 500, 503]);

    let mut seqs = BTreeSet::new();
    for _ in 0..3 {
        seqs.insert(send(&app, &alice, &room).await);
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    inbox.wait_delivered("/hook/bob", 3).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delivered: Vec<Value> = inbox.delivered("/hook/bob").iter().map(Received::json).collect();
    delivered.iter().for_each(|push| assert_payload(push, &room));
    assert_eq!(covered(&delivered), seqs);

    // Every attempt at one push carried that push's key; each push had its own.
    let received = inbox.received("/hook/bob");
    assert_eq!(received.len(), 6, "three failures, three successes");
    let keys: BTreeSet<String> =
        inbox.delivered("/hook/bob").iter().map(|r| r.header("idempotency-key").unwrap()).collect();
    assert_eq!(keys.len(), 3);
    assert!(received.iter().all(|r| keys.contains(&r.header("idempotency-key").unwrap())));
    let dead: i64 =
        sqlx::query_scalar("SELECT count(*) FROM push_dead_letters").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(dead, 0);
    let webhook = "provider=\"webhook\"";
    assert!(metric(&app, "ciphertalk_push_sent_total", &[webhook]).await >= 3.0);
    assert!(metric(&app, "ciphertalk_push_failed_total", &[webhook, "reason=\"server_error\""]).await >= 3.0);
    assert!(metric(&app, "ciphertalk_push_jobs_total", &[]).await >= 3.0);
}

#[tokio::test]
async fn a_push_that_keeps_failing_is_dead_lettered_after_its_attempts() {
    let inbox = Inbox::start().await;
    let app = spawn_app().config(push_config).await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    register_webhook(&app, &bob, &inbox.url("/hook/bob")).await;
    inbox.fail_next(&[503; 4]);

    let seq = send(&app, &alice, &room).await;
    let dead = eventually(30, || async {
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM push_dead_letters")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        rows == 1
    })
    .await;
    assert!(dead, "no dead letter after {:?}", inbox.received("/hook/bob"));
    let (first_seq, attempts, reason): (i64, i32, String) =
        sqlx::query_as("SELECT first_seq, attempts, reason FROM push_dead_letters")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!((first_seq as u64, attempts, reason.as_str()), (seq, 4, "server_error"));
    assert_eq!(inbox.received("/hook/bob").len(), 4, "push.attempts attempts, no more");
    // The job is done: a later message is pushed, the dead one is not retried.
    let next = send(&app, &alice, &room).await;
    let delivered = inbox.wait_delivered("/hook/bob", 1).await;
    assert_eq!(delivered[0].json()["first_seq"].as_u64(), Some(next));
}
