//! Named properties of per-device delivery cursors (the pure model the gateway is held to).

use super::*;

const PHONE: DeviceId = FIRST;

#[derive(Debug, Clone)]
enum QueueOp {
    RoomEvent,
    ToDevice(bool),
    Connect(bool),
    Pull(bool, usize),
    Ack(bool),
    Disconnect(bool),
    AddLaptop,
}

fn queue_op() -> impl Strategy<Value = QueueOp> {
    prop_oneof![
        3 => Just(QueueOp::RoomEvent),
        1 => any::<bool>().prop_map(QueueOp::ToDevice),
        2 => any::<bool>().prop_map(QueueOp::Connect),
        3 => (any::<bool>(), 1_usize..4).prop_map(|(laptop, n)| QueueOp::Pull(laptop, n)),
        2 => any::<bool>().prop_map(QueueOp::Ack),
        1 => any::<bool>().prop_map(QueueOp::Disconnect),
        1 => Just(QueueOp::AddLaptop),
    ]
}

/// A device as a client: its connection, the last position it applied
/// (kept across connections, so a redelivered entry is recognised), and what
/// it applied, in order.
#[derive(Debug, Default)]
struct Client {
    joined_after: Option<Position>,
    session: Option<Session>,
    cursor_at_connect: Position,
    last_applied: Position,
    applied: Vec<Position>,
}

impl Client {
    fn pull(&mut self, queue: &DeliveryQueue<&str>, n: usize) -> Result<(), TestCaseError> {
        let Some(session) = self.session.as_mut() else { return Ok(()) };
        for _ in 0..n {
            let Some(entry) = queue.next(session) else { break };
            if entry.position > self.last_applied {
                self.last_applied = entry.position;
                self.applied.push(entry.position);
            } else {
                // Only what was delivered and not acknowledged comes again.
                prop_assert!(entry.position > self.cursor_at_connect);
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    // Delivery: per-device cursors. Under any interleaving of appends,
    // connects, pulls, acks and disconnects on two devices (the second
    // added at any moment), each device applies every entry for it after the
    // point it joined exactly once and in order (so both see the same
    // sequence of room events from the later one's start, and only their own
    // to-device messages); an ack moves only its device's cursor, forward.
    #[test]
    fn every_device_sees_the_same_room_events_exactly_once(ops in prop::collection::vec(queue_op(), 1..80)) {
        let mut queue: DeliveryQueue<&str> = DeliveryQueue::default();
        queue.add_device(PHONE);
        let mut clients = [Client { joined_after: Some(0), ..Client::default() }, Client::default()];
        let device = |laptop: bool| if laptop { LAPTOP } else { PHONE };
        for op in ops {
            match op {
                QueueOp::RoomEvent => {
                    queue.append(Audience::EveryDevice, "room event");
                }
                QueueOp::ToDevice(laptop) => {
                    queue.append(Audience::Device(device(laptop)), "to-device message");
                }
                QueueOp::AddLaptop => {
                    if clients[1].joined_after.is_none() {
                        queue.add_device(LAPTOP);
                        let end = Some(queue.end());
                        prop_assert_eq!(queue.cursor(LAPTOP), end, "a new device starts at the end");
                        clients[1].joined_after = Some(queue.end());
                        clients[1].last_applied = queue.end();
                    }
                }
                QueueOp::Connect(laptop) => {
                    let client = &mut clients[usize::from(laptop)];
                    if client.session.is_none() && let Some(session) = queue.connect(device(laptop), None) {
                        client.cursor_at_connect = session.position();
                        client.session = Some(session);
                    }
                }
                QueueOp::Pull(laptop, n) => clients[usize::from(laptop)].pull(&queue, n)?,
                QueueOp::Ack(laptop) => {
                    if let Some(session) = clients[usize::from(laptop)].session {
                        let other = device(!laptop);
                        let (mine, theirs) = (queue.cursor(device(laptop)), queue.cursor(other));
                        let stored = queue.ack(device(laptop), session.position()).unwrap();
                        prop_assert!(Some(stored) >= mine, "a cursor never moves back");
                        prop_assert_eq!(queue.cursor(other), theirs, "an ack moves only its own device");
                    }
                }
                QueueOp::Disconnect(laptop) => clients[usize::from(laptop)].session = None,
            }
        }
        // Both reconnect and catch up.
        for (laptop, client) in clients.iter_mut().enumerate() {
            if client.joined_after.is_some() {
                client.session = queue.connect(device(laptop == 1), None);
                client.cursor_at_connect = client.session.map_or(0, |session| session.position());
                client.pull(&queue, usize::MAX)?;
            }
        }
        for (laptop, client) in clients.iter().enumerate() {
            let Some(joined_after) = client.joined_after else { continue };
            let me = device(laptop == 1);
            let expected: Vec<Position> = queue
                .entries()
                .iter()
                .filter(|entry| entry.position > joined_after && entry.audience.includes(me))
                .map(|entry| entry.position)
                .collect();
            prop_assert_eq!(&client.applied, &expected, "{} applies each of its entries once, in order", me);
        }
        let room_events = |client: &Client| -> Vec<Position> {
            let for_everyone = |position: &Position| {
                queue.entries()[*position as usize - 1].audience == Audience::EveryDevice
            };
            client.applied.iter().copied().filter(for_everyone).collect()
        };
        if let Some(laptop_joined) = clients[1].joined_after {
            let phone_since: Vec<Position> =
                room_events(&clients[0]).into_iter().filter(|p| *p > laptop_joined).collect();
            prop_assert_eq!(phone_since, room_events(&clients[1]), "the same room events on both devices");
        }
    }
}
