//! Profiles, usernames, search and settings.

use super::*;

#[tokio::test]
async fn profiles_usernames_search_and_settings() {
    let app = spawn_app().await;
    let ann = app.register("ann@example.org", "Ann Lee").await;
    let ben = app.register("ben@example.org", "Benjamin").await;
    let (ann_token, ben_token) = (token(&ann, "access_token"), token(&ben, "access_token"));
    let ann_id = ann["user"]["id"].as_str().unwrap().to_owned();

    let (status, me) = app
        .patch(
            &ann_token,
            "/v1/users/me",
            json!({"username": "Ann_99", "bio": "hello", "display_name": "Ann"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        (me["username"].as_str(), me["bio"].as_str(), me["display_name"].as_str()),
        (Some("ann_99"), Some("hello"), Some("Ann"))
    );
    let (status, body) = app.patch(&ben_token, "/v1/users/me", json!({"username": "ANN_99"})).await;
    assert_error(status, &body, 409, "username_taken");
    for bad in ["ab", "has-dash", "x".repeat(33).as_str()] {
        let (status, body) = app.patch(&ben_token, "/v1/users/me", json!({"username": bad})).await;
        assert_error(status, &body, 422, "invalid_value");
    }
    // Renaming frees the old name for others.
    let (status, _) = app.patch(&ann_token, "/v1/users/me", json!({"username": "ann_lee"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.patch(&ben_token, "/v1/users/me", json!({"username": "ann_99"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, by_username) = app.get(&ben_token, "/v1/users?query=ANN_").await;
    let found: Vec<&str> =
        by_username["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(
        found,
        ["ann_lee", "ann_99"],
        "by display name (Ann, Benjamin); '_' is no wildcard: {by_username}"
    );
    let (_, no_wildcard) = app.get(&ben_token, "/v1/users?query=ann%25").await;
    assert_eq!(no_wildcard["items"], json!([]));
    // Concurrent claims of one name: one wins.
    let results = futures::future::join_all([
        app.patch(&ann_token, "/v1/users/me", json!({"username": "zed"})),
        app.patch(&ben_token, "/v1/users/me", json!({"username": "zed"})),
    ])
    .await;
    assert_eq!(results.iter().filter(|(s, _)| *s == StatusCode::OK).count(), 1, "{results:?}");

    // Others see the public profile, read back at once; the owner sees more.
    let (status, seen) = app.get(&ben_token, &format!("/v1/users/{ann_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["bio"], "hello");
    assert!(seen.get("email").is_none(), "{seen}");
    let (_, own) = app.get(&ann_token, &format!("/v1/users/{ann_id}")).await;
    assert_eq!(own["email"], "ann@example.org");
    let (status, body) = app.get(&ann_token, &format!("/v1/users/{}", uuid::Uuid::now_v7())).await;
    assert_error(status, &body, 404, "not_found");
    let (status, cleared) = app.patch(&ann_token, "/v1/users/me", json!({"bio": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(cleared.get("bio").is_none(), "{cleared}");

    // Search by username or display-name prefix, paged.
    for i in 0..3 {
        app.register(&format!("benny{i}@example.org"), &format!("Benny {i}")).await;
    }
    let (status, page) = app.get(&ann_token, "/v1/users?query=ben").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let names: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|u| u["display_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Benjamin", "Benny 0", "Benny 1", "Benny 2"]);
    assert!(page["next"].is_null());
    assert!(page["items"][0].get("email").is_none());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/users?query=benn&limit=2&cursor={c}"),
            None => "/v1/users?query=benn&limit=2".to_owned(),
        };
        let (status, page) = app.get(&ann_token, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["items"].as_array().unwrap().iter().map(|u| u["display_name"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["Benny 0", "Benny 1", "Benny 2"]);
    for bad in [
        "/v1/users?query=",
        "/v1/users",
        "/v1/users?query=a&limit=0",
        "/v1/users?query=a&limit=201",
        "/v1/users?query=a&limit=x",
    ] {
        let (status, body) = app.get(&ann_token, bad).await;
        assert_error(status, &body, 422, "invalid_value");
    }
    let (status, body) = app.get(&ann_token, "/v1/users?query=a&cursor=zzz").await;
    assert_error(status, &body, 422, "invalid_cursor");

    // Settings.
    let (status, settings) = app.get(&ann_token, "/v1/users/me/settings").await;
    assert_eq!(
        (status, settings),
        (StatusCode::OK, json!({"last_seen_visible_to": "everybody", "notifications": true}))
    );
    let (status, settings) = app
        .call(
            &ann_token,
            "PATCH",
            "/v1/users/me/settings",
            Some(json!({"last_seen_visible_to": "contacts", "notifications": false})),
        )
        .await;
    assert_eq!(
        (status, settings),
        (StatusCode::OK, json!({"last_seen_visible_to": "contacts", "notifications": false}))
    );
    let (status, body) = app
        .call(&ann_token, "PATCH", "/v1/users/me/settings", Some(json!({"last_seen_visible_to": "martians"})))
        .await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, body) =
        app.call(Anonymous, "PATCH", "/v1/users/me/settings", Some(json!({"notifications": true}))).await;
    assert_error(status, &body, 401, "unauthenticated");
    app.stop().await;
}
