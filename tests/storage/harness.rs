//! The Garage harness itself: cheap enough to start per test, and gone on drop.

use std::time::{Duration, Instant};

use object_store::{ObjectStoreExt as _, PutPayload};

use super::key;
use crate::support::garage::TestGarage;
use crate::support::processes_mentioning;

#[tokio::test]
async fn a_garage_starts_in_seconds_with_its_bucket_and_leaves_nothing_behind() {
    let started = Instant::now();
    let garage = TestGarage::start().await;
    let took = started.elapsed();
    eprintln!("garage started in {took:?}");
    assert!(took < Duration::from_secs(10), "starting took {took:?}");

    let path = key("hello");
    garage.store().put(&path, PutPayload::from_static(b"hello")).await.unwrap();
    assert_eq!(garage.store().head(&path).await.unwrap().size, 5, "the key may write and read its bucket");

    let dir = garage.dir().to_path_buf();
    drop(garage);
    assert!(processes_mentioning(&dir).is_empty(), "garage outlived its test");
    assert!(!dir.exists(), "its folder was left behind");
}

#[tokio::test]
async fn a_restarted_garage_keeps_its_bucket_key_and_objects() {
    let mut garage = TestGarage::start().await;
    let path = key("kept");
    garage.store().put(&path, PutPayload::from_static(b"kept")).await.unwrap();
    garage.restart().await;
    let kept = garage.store().get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(&kept[..], b"kept");
}
