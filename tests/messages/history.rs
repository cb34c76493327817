//! A room's history: paging both ways, the edit window, receipts.

use super::*;

#[tokio::test]
async fn a_thousand_messages_page_backwards_and_forwards_without_gaps() {
    let chat = spawn_app().await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    seed(&chat, &alice, &room, 1000, Utc::now()).await;
    let path = format!("/v1/rooms/{room}/messages");

    // Newest first page by default (50), then backwards with `before`.
    let (_, page) = chat.get(&bob, &path).await;
    assert_eq!(seqs(&page), (951..=1000).collect::<Vec<_>>());
    let mut backwards = Vec::new();
    let mut query = "limit=200".to_owned();
    loop {
        let (status, page) = chat.get(&bob, &format!("{path}?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let mut got = seqs(&page);
        assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "ascending without gaps");
        got.extend(backwards);
        backwards = got;
        match page["next"].as_str() {
            Some(next) => query = format!("limit=200&before={next}"),
            None => break,
        }
    }
    assert_eq!(backwards, (1..=1000).collect::<Vec<_>>());

    // Forwards with `after`, in the largest pages; a limit over 200 is refused.
    let (status, _) = chat.get(&bob, &format!("{path}?after=0&limit=333")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut forwards: Vec<u64> = Vec::new();
    let mut after = 0;
    let mut pages = 0;
    loop {
        let (_, page) = chat.get(&bob, &format!("{path}?after={after}&limit=200")).await;
        let got = seqs(&page);
        assert!(got.len() <= 200);
        forwards.extend(&got);
        pages += 1;
        match page["next"].as_str() {
            Some(next) => after = next.parse().unwrap(),
            None => break,
        }
    }
    assert_eq!(forwards, (1..=1000).collect::<Vec<_>>());
    assert_eq!(pages, 5);
    let (_, page) = chat.get(&bob, &format!("{path}?before=11&limit=5")).await;
    assert_eq!(seqs(&page), vec![6, 7, 8, 9, 10]);
    let (_, page) = chat.get(&bob, &format!("{path}?after=998")).await;
    assert_eq!(seqs(&page), vec![999, 1000]);
    assert!(page["next"].is_null());
    let (_, list) = chat.get(&bob, "/v1/rooms").await;
    assert_eq!(list["items"][0]["last_seq"], 1000);
    assert_eq!(list["items"][0]["unread"], 1000);
    chat.stop().await;
}

#[tokio::test]
async fn edits_close_48_hours_after_sending() {
    let chat = spawn_app().await;
    let alice = chat.person("Alice").await;
    let room = chat.group(&alice, &[]).await;
    let old = seed(&chat, &alice, &room, 1, Utc::now() - TimeDelta::hours(49)).await[0];
    let recent = seed(&chat, &alice, &room, 1, Utc::now() - TimeDelta::hours(47)).await[0];
    let path = |id: MessageId| format!("/v1/rooms/{room}/messages/{id}");
    let (status, body) = chat.patch(&alice, &path(old), json!({"ciphertext": b64("late")})).await;
    assert_error(status, &body, 409, "edit_window_closed");
    let (status, body) = chat.patch(&alice, &path(recent), json!({"ciphertext": b64("in time")})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Deleting has no window.
    let (status, _) = chat.delete(&alice, &path(old)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    chat.stop().await;
}

#[tokio::test]
async fn receipts_only_move_forwards_and_stop_at_the_last_message() {
    let chat = spawn_app().await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    for text in ["a", "b", "c"] {
        chat.send(&alice, &room, text).await;
    }
    let path = format!("/v1/rooms/{room}/receipts");
    for (body, expected) in [
        (json!({"up_to_seq": 3, "kind": "delivered"}), 204),
        (json!({"up_to_seq": 2, "kind": "read"}), 204),
        (json!({"up_to_seq": 1, "kind": "read"}), 204),
        (json!({"up_to_seq": 4, "kind": "read"}), 422),
        (json!({"up_to_seq": 1, "kind": "seen"}), 422),
    ] {
        let (status, answer) = chat.post(&bob, &path, body.clone()).await;
        assert_eq!(status.as_u16(), expected, "{body}: {answer}");
    }
    let (_, list) = chat.get(&bob, "/v1/rooms").await;
    assert_eq!(list["items"][0]["unread"], 1);
    chat.stop().await;
}
