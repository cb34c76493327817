//! Where file blobs live: the local file system or any S3-compatible store,
//! both through `object_store`.

pub mod s3;
