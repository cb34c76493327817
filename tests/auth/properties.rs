//! Property tests over HTTP: random sequences against a small model.

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};

use super::*;

#[derive(Debug, Clone)]
enum SessionOp {
    Login,
    /// Refresh with the i-th token ever issued (spent or not: reuse included).
    Refresh(usize),
    Logout(usize),
}

fn session_op() -> impl Strategy<Value = SessionOp> {
    prop_oneof![
        1 => Just(SessionOp::Login),
        5 => any::<usize>().prop_map(SessionOp::Refresh),
        1 => any::<usize>().prop_map(SessionOp::Logout),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Whatever the order of logins, refreshes, reuses and logouts: a token
/// works once and only while its family is alive; a reused token kills
/// its family; logout kills its family; other families are untouched.
#[test]
fn refresh_token_rotation_keeps_its_invariants() {
    let rt = runtime();
    let app = rt.block_on(spawn_app().config(|config| config.keys.devices_per_user = 1000).start());
    rt.block_on(app.register("prop@example.org", "Prop"));
    let mut runner = TestRunner::new(ProptestConfig { cases: 24, ..ProptestConfig::default() });
    let result = runner.run(&proptest::collection::vec(session_op(), 1..16), |ops| {
        rt.block_on(async {
            // Model: (refresh token, family, spent), and revoked families.
            let mut tokens: Vec<(String, usize, bool)> = Vec::new();
            let mut revoked: Vec<bool> = Vec::new();
            let mut removed: Vec<bool> = Vec::new();
            // Each login is a device of its own, and logout (with that login's
            // access token) removes it: once removed, its token is refused.
            let mut access_of: Vec<String> = Vec::new();
            let login = json!({"email": "prop@example.org", "password": "correct horse battery"});
            for op in std::iter::once(SessionOp::Login).chain(ops) {
                match op {
                    SessionOp::Login => {
                        let (status, body) = app.post(Anonymous, "/v1/auth/login", login.clone()).await;
                        prop_assert_eq!(status, StatusCode::OK);
                        tokens.push((token(&body, "refresh_token"), revoked.len(), false));
                        access_of.push(token(&body, "access_token"));
                        revoked.push(false);
                        removed.push(false);
                    }
                    SessionOp::Refresh(i) => {
                        let i = i % tokens.len();
                        let (value, family, spent) = tokens[i].clone();
                        let (status, body) =
                            app.post(Anonymous, "/v1/auth/refresh", json!({"refresh_token": value})).await;
                        if revoked[family] || spent {
                            prop_assert_eq!(status, StatusCode::UNAUTHORIZED, "token {} {:?}", i, body);
                            if spent {
                                revoked[family] = true;
                            }
                        } else {
                            prop_assert_eq!(status, StatusCode::OK, "token {} {:?}", i, body);
                            tokens[i].2 = true;
                            let next = token(&body, "refresh_token");
                            prop_assert!(tokens.iter().all(|(t, _, _)| *t != next), "a token came back");
                            tokens.push((next, family, false));
                        }
                    }
                    SessionOp::Logout(i) => {
                        let (value, family, _) = tokens[i % tokens.len()].clone();
                        let (status, _) = app
                            .call(
                                &access_of[family],
                                "POST",
                                "/v1/auth/logout",
                                Some(json!({"refresh_token": value})),
                            )
                            .await;
                        let expected = if removed[family] { 401 } else { 204 };
                        prop_assert_eq!(status.as_u16(), expected);
                        revoked[family] = true;
                        removed[family] = true;
                    }
                }
            }
            // Afterwards, every token ever issued, in order: only the live
            // ones still refresh (and each reuse on the way revokes its family).
            for (value, family, spent) in tokens.clone() {
                let (status, _) =
                    app.post(Anonymous, "/v1/auth/refresh", json!({"refresh_token": value})).await;
                prop_assert_eq!(status == StatusCode::OK, !revoked[family] && !spent);
                if spent {
                    revoked[family] = true;
                }
            }
            Ok::<(), TestCaseError>(())
        })
    });
    rt.block_on(app.stop());
    result.unwrap();
}

/// Any sequence of right and wrong codes: wrong ones count down from 3,
/// the first right one within the attempts logs in, everything after the
/// login or the last attempt is 410.
#[test]
fn phone_code_attempts_follow_the_model() {
    let rt = runtime();
    // Each login after the first adds a device: the model is about codes, not devices.
    let app = rt.block_on(spawn_app().config(|config| config.keys.devices_per_user = 1000).start());
    let phone = "+4915199999999";
    let mut runner = TestRunner::new(ProptestConfig { cases: 24, ..ProptestConfig::default() });
    let result = runner.run(&proptest::collection::vec(any::<bool>(), 1..7), |attempts| {
        rt.block_on(async {
            let (status, started) =
                app.post(Anonymous, "/v1/auth/phone/start", json!({"phone": phone})).await;
            prop_assert_eq!(status, StatusCode::ACCEPTED);
            let code = app.last_code(phone);
            let wrong = if code == "000000" { "999999" } else { "000000" };
            let (mut remaining, mut used) = (3, false);
            for correct in attempts {
                let sent = if correct { code.as_str() } else { wrong };
                let (status, body) = app
                    .post(
                        Anonymous,
                        "/v1/auth/phone/verify",
                        json!({"session_id": started["session_id"], "code": sent}),
                    )
                    .await;
                if used || remaining == 0 {
                    prop_assert_eq!(status, StatusCode::GONE, "{:?}", body);
                } else if correct {
                    prop_assert_eq!(status, StatusCode::OK, "{:?}", body);
                    used = true;
                } else {
                    remaining -= 1;
                    prop_assert_eq!(status, StatusCode::UNAUTHORIZED);
                    prop_assert_eq!(&body["error"]["details"]["attempts_remaining"], &json!(remaining));
                }
            }
            Ok::<(), TestCaseError>(())
        })
    });
    // Concurrent guesses get no more than the three attempts between them.
    rt.block_on(async {
        let (_, started) = app.post(Anonymous, "/v1/auth/phone/start", json!({"phone": phone})).await;
        let code = app.last_code(phone);
        let wrong = if code == "000000" { "999999" } else { "000000" };
        let guesses = futures::future::join_all((0..10).map(|_| {
            app.post(
                Anonymous,
                "/v1/auth/phone/verify",
                json!({"session_id": started["session_id"], "code": wrong}),
            )
        }))
        .await;
        let wrong_answers = guesses.iter().filter(|(s, _)| *s == StatusCode::UNAUTHORIZED).count();
        let gone = guesses.iter().filter(|(s, _)| *s == StatusCode::GONE).count();
        assert_eq!((wrong_answers, gone), (3, 7));
        app.stop().await;
    });
    result.unwrap();
}
