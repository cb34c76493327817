//! Version 1 of `FileRegistered` and `ChunkStored` predates chunk digests:
//! they load with none (declared nothing, measured nothing).

use cqrs_es::persist::EventUpcaster;
use serde_json::Value;

use super::events::DIGEST_EVENT_VERSION;
use crate::upcast::VariantUpcaster;

/// The file events' upcasters, for [`crate::upcast::upcasters`].
#[must_use]
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    [("FileRegistered", "chunk_sha256"), ("ChunkStored", "sha256")]
        .into_iter()
        .filter_map(|(event_type, field)| {
            VariantUpcaster::new(event_type, DIGEST_EVENT_VERSION, move |mut fields| {
                fields.entry(field).or_insert(Value::Null);
                fields
            })
            .ok()
        })
        .map(|upcaster| Box::new(upcaster) as Box<dyn EventUpcaster>)
        .collect()
}
