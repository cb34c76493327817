//! Messages over HTTP: send (idempotent, size-limited, franked), page both
//! ways, edit within 48 hours, delete for everyone or for me, forwards,
//! receipts, and who may do what (the authorization matrix).

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{TimeDelta, Utc};
use ciphertalk_commands::CommandMetadata;
use ciphertalk_domain::room::franking::FrankingInput;
use ciphertalk_domain::testing::SendMessageBuilder;
use ciphertalk_domain::values::{Ciphertext, ClientMsgId, Commitment, FrankingKeyId};
use ciphertalk_domain::{MessageId, RoomId};
use ciphertalk_gateway::franking::FrankingKey;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{FRANKING_KEY, Person, TestApp, assert_error, b64, spawn_app};
use crate::support::{delivery_consumer_without_projector, eventually, hold_projections, pending_for};

mod authorization;
mod history;
mod sending;

fn seqs(page: &Value) -> Vec<u64> {
    page["items"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect()
}

/// Sends `count` messages through the write model (fast), then waits until
/// the timeline has them all.
async fn seed(
    chat: &TestApp,
    sender: &Person,
    room: &str,
    count: usize,
    sent_at: chrono::DateTime<Utc>,
) -> Vec<MessageId> {
    let write = chat.server().state.write.clone();
    let room_id: RoomId = room.parse().unwrap();
    let mut ids = Vec::with_capacity(count);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let message_id = MessageId::new_v7();
        ids.push(message_id);
        let client_msg_id = ClientMsgId::parse(&format!("seed-{i}-{message_id}")).unwrap();
        let ciphertext = Ciphertext::parse(&b64(&format!("message {i}"))).unwrap();
        let command =
            SendMessageBuilder::new(message_id, sender.id, client_msg_id, ciphertext, sent_at).build();
        let write = write.clone();
        let room_id = room_id.to_string();
        tasks.spawn(async move {
            write.rooms.execute(&room_id, command, &CommandMetadata::system("test-seed")).await.unwrap();
        });
        // Enough in flight to use group commit, not so many that one batch waits on all.
        if tasks.len() >= 64 {
            tasks.join_next().await.unwrap().unwrap();
        }
    }
    tasks.join_all().await;
    let loaded = write.rooms.load(room).await.unwrap();
    let freshness = chat.server().state.freshness.clone();
    let sequence = loaded.sequence as u64;
    let caught_up = freshness
        .wait_for_all(
            &[ciphertalk_projections::Projection::Timeline, ciphertalk_projections::Projection::Rooms],
            room,
            sequence,
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(caught_up, "the read models did not catch up");
    ids
}
