//! The read side: projections fed from CHAT_EVENTS reflect the write history,
//! apply every event exactly once (redelivery, duplicates, crashes, two
//! projector processes), replay into an identical read model, serve
//! read-your-writes waits, and page through long timelines both ways.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::AckPolicy, consumer::DeliverPolicy, consumer::pull};
use chrono::Utc;
use ciphertalk_domain::ids::{MessageId, RoomId, UserId};
use ciphertalk_domain::room::{DeleteScope, JoinRule, ReceiptKind, Role, RoomCommand, RoomKind};
use ciphertalk_domain::user::UserCommand;
use ciphertalk_domain::values::DisplayName;
use ciphertalk_projections::timeline::Window;
use ciphertalk_projections::{
    Backlog, Freshness, HEADER_DELIVERY_ID, Projection, ProjectorOptions, blocks, contacts, freshness,
    projector, rebuild, rooms, timeline,
};
use ciphertalk_streams::WireEvent;
use tokio_util::sync::CancellationToken;

use crate::support::app::{TestApp, spawn_app};
use crate::support::commands::{ciphertext, message};
use crate::support::{delivery_consumer_without_projector, eventually};

mod delivery;
mod exactly_once;
mod filtered;
mod reads;
mod replay;

impl TestApp {
    /// Projectors of every projection, as another process would run them.
    fn spawn_projectors(&self, batch_size: usize) -> (CancellationToken, Vec<tokio::task::JoinHandle<()>>) {
        self.spawn_projectors_with(ProjectorOptions { batch_size, ..ProjectorOptions::default() })
    }

    fn spawn_projectors_with(
        &self,
        options: ProjectorOptions,
    ) -> (CancellationToken, Vec<tokio::task::JoinHandle<()>>) {
        let shutdown = CancellationToken::new();
        let tasks = projector::spawn_all(
            &self.js(),
            &Freshness::new(self.db.pool.clone()),
            &options,
            None,
            &shutdown,
        );
        (shutdown, tasks)
    }

    /// Runs projectors until every projection has caught up, then stops them.
    async fn project_everything(&self, batch_size: usize) {
        let (shutdown, tasks) = self.spawn_projectors(batch_size);
        self.caught_up().await;
        stop_projectors(shutdown, tasks).await;
    }

    async fn stream_last_seq(&self) -> u64 {
        let mut stream = self.js().get_stream("CHAT_EVENTS").await.unwrap();
        stream.info().await.unwrap().state.last_sequence
    }

    /// Waits until every event is in the stream and every projection applied it.
    pub(crate) async fn caught_up(&self) {
        let done = eventually(60, || async {
            let last = self.stream_last_seq().await;
            if last < self.committed_events().await {
                return false;
            }
            let statuses = freshness::status(&self.db.pool).await.unwrap();
            statuses.iter().all(|s| s.stream_seq >= last)
        })
        .await;
        assert!(done, "projections did not catch up: {:?}", freshness::status(&self.db.pool).await.unwrap());
    }

    async fn applied_events(&self, projection: Projection) -> u64 {
        let status = freshness::status(&self.db.pool).await.unwrap();
        status.into_iter().find(|s| s.projection == projection).unwrap().applied_events
    }

    /// Events in the event store of the aggregate types a projection follows.
    async fn events_of(&self, projection: Projection) -> u64 {
        let kinds: Vec<(String, String)> =
            sqlx::query_as("SELECT aggregate_type, event_type FROM events WHERE aggregate_type = ANY($1)")
                .bind(projection.aggregate_types())
                .fetch_all(&self.db.pool)
                .await
                .unwrap();
        kinds.iter().filter(|(aggregate, event)| projection.follows_event(aggregate, event)).count() as u64
    }

    /// Every row of every table of the projection, in a canonical order.
    pub(crate) async fn snapshot(&self, projection: Projection) -> Vec<(String, serde_json::Value)> {
        let mut out = Vec::new();
        for table in projection.tables() {
            let rows: serde_json::Value = sqlx::query_scalar(&format!(
                "SELECT COALESCE(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]'::jsonb) FROM {table} t"
            ))
            .fetch_one(&self.db.pool)
            .await
            .unwrap();
            out.push(((*table).to_owned(), rows));
        }
        out
    }
}

/// What the scripted history leaves behind, for the assertions.
struct History {
    alice: UserId,
    bob: UserId,
    carol: UserId,
    dave: UserId,
    room: RoomId,
    quiet_room: RoomId,
    messages: Vec<MessageId>,
}

/// Users, two rooms, joins and roles, messages with an edit, a delete for
/// everyone, a hide, a takedown, receipts, contacts and blocks.
async fn script(app: &TestApp) -> History {
    let alice = app.commands().register("Alice").await;
    let bob = app.commands().register("bob").await;
    let carol = app.commands().register("Carol").await;
    let dave = app.commands().register("Dave").await;

    let quiet_room = app.commands().create_group(alice, vec![dave], "quiet").await;
    let room = app.commands().create_group(alice, vec![bob], "general").await;
    let at = Utc::now();
    app.commands()
        .room(room, alice, RoomCommand::AddMember { actor: alice, user: carol, role: Role::Member, at })
        .await;
    app.commands()
        .room(room, alice, RoomCommand::ChangeRole { actor: alice, user: bob, role: Role::Admin, at })
        .await;
    app.commands()
        .room(room, alice, RoomCommand::AddMember { actor: alice, user: dave, role: Role::Member, at })
        .await;
    app.commands().room(room, bob, RoomCommand::RemoveMember { actor: bob, user: dave, at }).await;

    let mut messages = Vec::new();
    for (sender, text) in [(alice, "one"), (alice, "two"), (bob, "three"), (carol, "four"), (bob, "five")] {
        messages.push(app.commands().send(room, sender, text).await);
    }
    let at = Utc::now();
    let edit =
        RoomCommand::EditMessage { actor: alice, message_id: messages[0], ciphertext: ciphertext("ONE"), at };
    app.commands().room(room, alice, edit).await;
    let delete = RoomCommand::DeleteMessage {
        actor: alice,
        message_id: messages[1],
        scope: DeleteScope::ForEveryone,
        at,
    };
    app.commands().room(room, alice, delete).await;
    let hide =
        RoomCommand::DeleteMessage { actor: bob, message_id: messages[2], scope: DeleteScope::ForMe, at };
    app.commands().room(room, bob, hide).await;
    let takedown =
        RoomCommand::TakeDownMessage { moderator: dave, message_id: messages[3], report_id: None, at };
    app.commands().room(room, dave, takedown).await;
    app.commands()
        .room(room, bob, RoomCommand::UpdateReceipt { user: bob, up_to_seq: 3, kind: ReceiptKind::Read, at })
        .await;
    let delivered =
        RoomCommand::UpdateReceipt { user: carol, up_to_seq: 5, kind: ReceiptKind::Delivered, at };
    app.commands().room(room, carol, delivered).await;
    // Activity in the older room makes it the most recent one again.
    app.commands().send(quiet_room, dave, "later").await;

    for contact in [bob, carol, dave] {
        app.commands().user(alice, UserCommand::AddContact { contact, at }).await;
    }
    app.commands().user(alice, UserCommand::RemoveContact { contact: dave, at }).await;
    let rename = UserCommand::UpdateProfile {
        display_name: Some(DisplayName::parse("Aaron").unwrap()),
        username: None,
        bio: None,
        avatar_file_id: None,
        at,
    };
    app.commands().user(carol, rename).await;
    app.commands().user(alice, UserCommand::BlockUser { blocked: dave, at }).await;
    app.commands().user(bob, UserCommand::BlockUser { blocked: carol, at }).await;
    app.commands().user(bob, UserCommand::UnblockUser { blocked: carol, at }).await;
    History { alice, bob, carol, dave, room, quiet_room, messages }
}

async fn stop_projectors(shutdown: CancellationToken, tasks: Vec<tokio::task::JoinHandle<()>>) {
    shutdown.cancel();
    for task in tasks {
        task.await.unwrap();
    }
}
