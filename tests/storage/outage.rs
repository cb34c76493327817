//! A dead store fails fast with the client the gateway builds (`s3_store`'s
//! timeouts and retries), whether it is gone or hangs, and works again once
//! it is back.

use std::time::{Duration, Instant};

use object_store::{ObjectStoreExt as _, PutPayload};

use super::key;
use crate::support::garage::TestGarage;

/// Within what the brief allows a health check or a request to wait.
const FAST: Duration = Duration::from_secs(3);

/// How long `call` takes to fail.
async fn time_to_fail<T: std::fmt::Debug>(call: impl Future<Output = object_store::Result<T>>) -> Duration {
    let started = Instant::now();
    let result = call.await;
    let took = started.elapsed();
    assert!(result.is_err(), "a dead store answered: {result:?}");
    took
}

#[tokio::test]
async fn a_crashed_store_fails_within_seconds_and_serves_again_after_restart() {
    let mut garage = TestGarage::start().await;
    let store = garage.store();
    let path = key("0");
    store.put(&path, PutPayload::from_static(b"before")).await.unwrap();

    garage.kill();
    let head = time_to_fail(store.head(&path)).await;
    let put = time_to_fail(store.put(&key("1"), PutPayload::from_static(b"lost"))).await;
    eprintln!("crashed store: head failed in {head:?}, put in {put:?}");
    assert!(head < FAST && put < FAST, "head {head:?}, put {put:?}");

    garage.restart().await;
    assert_eq!(store.head(&path).await.unwrap().size, 6, "the same client works again");
}

#[tokio::test]
async fn a_hung_store_fails_within_seconds() {
    let mut garage = TestGarage::start().await;
    let store = garage.store();
    let path = key("0");
    store.put(&path, PutPayload::from_static(b"before")).await.unwrap();

    garage.freeze();
    let head = time_to_fail(store.head(&path)).await;
    let get = time_to_fail(store.get_range(&path, 0..3)).await;
    eprintln!("hung store: head failed in {head:?}, get in {get:?}");
    assert!(
        head < FAST + Duration::from_secs(1) && get < FAST + Duration::from_secs(1),
        "head {head:?}, get {get:?}"
    );

    garage.thaw();
    assert_eq!(store.head(&path).await.unwrap().size, 6);
}
