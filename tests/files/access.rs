//! Who sees what: the wrapped key only to its recipient, every route 404 to
//! a non-member, recipients only among members.

use super::*;
use crate::support::app::{assert_error, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_member_sees_only_the_key_wrapped_for_them() {
    let app = spawn_app().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    let room = app.group(&alice, &[&bob, &carol]).await;
    let (status, body) = register(&app, &alice, &room, 250, 100, &[&alice, &bob], json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let file = body["file_id"].as_str().unwrap();
    let keys = keys_for(&[&alice, &bob]);
    let key_of = |who: &Person| keys[who.id.to_string()].as_str().unwrap().to_owned();
    for (who, other) in [(&alice, &bob), (&bob, &alice)] {
        let (status, shown) = app.get(who, &format!("/v1/files/{file}")).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert_eq!(shown["wrapped_key"], key_of(who).as_str());
        assert!(!shown.to_string().contains(&key_of(other)), "another's key shown: {shown}");
    }
    let (_, shown) = app.get(&carol, &format!("/v1/files/{file}")).await;
    assert_eq!(shown["wrapped_key"], Value::Null, "no key for carol, and nobody else's: {shown}");
    assert!(!shown.to_string().contains(&key_of(&alice)) && !shown.to_string().contains(&key_of(&bob)));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_gets_404_on_every_route() {
    let app = spawn_app().await;
    let (alice, eve) = (app.person("Alice").await, app.person("Eve").await);
    let room = app.group(&alice, &[]).await;
    let (file, _) = registered(&app, &alice, &room, 250, 100).await;
    let (status, body) = register(&app, &eve, &room, 250, 100, &[&eve], json!({})).await;
    assert_error(status, &body, 404, "not_found");
    for (method, path) in [
        ("GET", format!("/v1/files/{file}")),
        ("POST", format!("/v1/files/{file}/upload-urls")),
        ("POST", format!("/v1/files/{file}/complete")),
        ("DELETE", format!("/v1/files/{file}")),
    ] {
        let (status, body) = app.call(&eve, method, &path, Some(json!({}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    // A recipient must be a member; a member who is not the uploader may not renew or complete.
    let (status, body) = register(&app, &alice, &room, 250, 100, &[&alice, &eve], json!({})).await;
    assert_error(status, &body, 422, "invalid_value");
    app.stop().await;
}

on_each_store! {
async fn delete_is_for_the_uploader_or_a_room_admin_and_removes_the_blobs(backend) {
    let app = spawn_app().files_on(backend).await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let room = app.group(&alice, &[&bob]).await;
    let (file, urls) = registered(&app, &bob, &room, 250, 100).await;
    for (index, url) in urls.iter().enumerate() {
        let size = if index == 2 { 50 } else { 100 };
        assert_eq!(put_chunk(&app, url, bytes(index as u8, size)).await.0, StatusCode::OK);
    }
    assert_eq!(blobs_of(&app, &file).await.len(), 3);
    let (status, body) = app.post(&alice, &format!("/v1/files/{file}/complete"), json!({})).await;
    assert_error(status, &body, 403, "forbidden");
    // Alice owns the room: she may delete Bob's file.
    let (status, body) = app.delete(&alice, &format!("/v1/files/{file}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let left = blobs_of(&app, &file).await;
    assert!(left.is_empty(), "blobs left: {left:?}");
    let (status, body) = app.get(&bob, &format!("/v1/files/{file}")).await;
    assert_error(status, &body, 410, "gone");
    let (status, body) = put_chunk(&app, &urls[0], bytes(0, 100)).await;
    assert_error(status, &body, 410, "gone");
    app.stop().await;
}
}
