//! Objects through `object_store` on Garage: what the gateway does with blobs.

use futures::TryStreamExt as _;
use object_store::path::Path;
use object_store::{ObjectStore as _, ObjectStoreExt as _, PutPayload, WriteMultipart};

use super::{key, pattern};
use crate::support::garage::TestGarage;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn put_get_a_range_head_list_and_delete() {
    let garage = TestGarage::start().await;
    let store = garage.store();
    let blob = pattern(300 * 1024);
    let path = key("0");

    store.put(&path, PutPayload::from(blob.clone())).await.unwrap();
    assert_eq!(store.head(&path).await.unwrap().size, blob.len() as u64);
    assert_eq!(store.get(&path).await.unwrap().bytes().await.unwrap(), blob);
    let range = store.get_range(&path, 1000..70_000).await.unwrap();
    assert_eq!(range, blob.slice(1000..70_000), "a byte range is those bytes");

    let prefix = Path::from(path.as_ref().rsplit_once('/').unwrap().0);
    let sibling = prefix.clone().join("1");
    store.put(&sibling, PutPayload::from_static(b"one")).await.unwrap();
    let mut listed: Vec<String> =
        store.list(Some(&prefix)).map_ok(|meta| meta.location.to_string()).try_collect().await.unwrap();
    listed.sort();
    assert_eq!(listed, [path.to_string(), sibling.to_string()]);

    store.delete(&path).await.unwrap();
    assert!(matches!(store.head(&path).await, Err(object_store::Error::NotFound { .. })));
    assert!(matches!(store.get(&path).await, Err(object_store::Error::NotFound { .. })));
    store.delete(&path).await.unwrap();
    let left: Vec<_> = store.list(Some(&prefix)).try_collect().await.unwrap();
    assert_eq!(left.len(), 1, "deleting one object leaves the other");
}

#[tokio::test]
async fn a_streamed_multipart_put_of_several_mib_reads_back_whole_and_by_range() {
    let garage = TestGarage::start().await;
    let store = garage.store();
    let blob = pattern(12 * MIB + 12_345);
    let path = key("big");

    // Written in 256 KiB pieces as they would arrive, uploaded in 5 MiB parts
    // (S3's smallest) while later pieces are still being written.
    let mut upload = WriteMultipart::new_with_chunk_size(store.put_multipart(&path).await.unwrap(), 5 * MIB);
    for piece in blob.chunks(256 * 1024) {
        upload.wait_for_capacity(2).await.unwrap();
        upload.write(piece);
    }
    upload.finish().await.unwrap();

    assert_eq!(store.head(&path).await.unwrap().size, blob.len() as u64);
    let across_parts = (5 * MIB - 10) as u64..(10 * MIB + 10) as u64;
    let got = store.get_range(&path, across_parts.clone()).await.unwrap();
    assert_eq!(got, blob.slice(across_parts.start as usize..across_parts.end as usize));
    assert_eq!(store.get(&path).await.unwrap().bytes().await.unwrap(), blob);
}
