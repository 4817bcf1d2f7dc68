//! The hand-over from a reading thread to the tracking thread: batches of TCP events
//! ([`Batch`]) and the messages around them ([`Msg`]), over a bounded channel whose used
//! batches come back to be filled again ([`Link`]), and the batch being filled ([`Outbox`]).

use std::sync::mpsc::{Receiver, SyncSender};

use super::InputRead;
use crate::evidence::InputForm;

/// Events handed from a reading thread to the tracking thread at a time.
pub const EVENT_BATCH: usize = 4096;

/// Payload bytes a capture's batch carries beyond this are not copied (the store keeps the
/// first 4 KiB of a client's bytes and a server's first line; a batch is sent early when its
/// payload reaches this).
const MAX_BATCH_PAYLOAD: usize = 4 << 20;

/// Payload bytes copied per segment at most.
pub const MAX_SEGMENT_PAYLOAD: usize = 4096;

/// TCP events in the input's order; for a capture, each event's payload (or its first
/// [`MAX_SEGMENT_PAYLOAD`] bytes) in `payload`, at `spans[i]`.
#[derive(Debug, Default)]
pub struct Batch {
    /// The events.
    pub events: Vec<halfopen_tcp::Event>,
    /// The payload bytes, one after the other.
    pub payload: Vec<u8>,
    /// Each event's (start, length) in `payload` (empty for a firewall log).
    pub spans: Vec<(u32, u32)>,
}

impl Batch {
    pub fn with_capacity(n: usize) -> Batch {
        Batch {
            events: Vec::with_capacity(n),
            ..Batch::default()
        }
    }

    /// The payload of event `i`.
    pub fn payload(&self, i: usize) -> &[u8] {
        self.spans
            .get(i)
            .and_then(|&(a, n)| {
                self.payload
                    .get(a as usize..(a as usize).saturating_add(n as usize))
            })
            .unwrap_or_default()
    }

    pub fn full(&self) -> bool {
        self.events.len() >= EVENT_BATCH || self.payload.len() >= MAX_BATCH_PAYLOAD
    }

    /// Empties the batch, keeping its buffers for the next one.
    pub fn clear(&mut self) {
        self.events.clear();
        self.payload.clear();
        self.spans.clear();
    }
}

/// A reading thread's ends of its two channels: messages to the tracking thread, and the
/// batches it has used coming back to be filled again (a fresh 0.5-4 MB batch per send
/// costs page faults on every one: the allocator hands such blocks back to the kernel).
#[derive(Debug)]
pub struct Link {
    /// Messages to the tracking thread.
    pub tx: SyncSender<Msg>,
    /// Used batches, emptied, to fill again.
    pub spare: Receiver<Batch>,
}

impl Link {
    /// An empty batch: a used one when one has come back, else a new one.
    pub fn empty_batch(&self) -> Batch {
        match self.spare.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => Batch::with_capacity(EVENT_BATCH),
        }
    }

    /// Sends the events gathered so far; false when the receiver is gone.
    pub fn send_batch(&self, batch: &mut Batch) -> bool {
        if batch.events.is_empty() {
            return true;
        }
        let full = std::mem::replace(batch, self.empty_batch());
        self.tx.send(Msg::Events(full)).is_ok()
    }

    pub fn send_form(&self, f: InputForm) {
        let _ = self.tx.send(Msg::Form(f));
    }
}

/// What a reading thread sends.
#[derive(Debug)]
pub enum Msg {
    /// TCP events, in the input's order.
    Events(Batch),
    /// What the input shows (sent once, before the events that follow its first lines).
    Form(InputForm),
    /// The input's counts (the last message).
    Done(Box<InputRead>),
}

/// The batch a reading thread is filling: sent when full ([`Batch::full`]), the rest at the
/// end. Once the tracking thread is gone, events are dropped and reading goes on to count.
#[derive(Debug)]
pub struct Outbox<'a> {
    link: &'a Link,
    /// The batch being filled.
    pub batch: Batch,
    gone: bool,
}

impl<'a> Outbox<'a> {
    /// An outbox sending on `link`.
    pub fn new(link: &'a Link) -> Outbox<'a> {
        Outbox {
            link,
            batch: link.empty_batch(),
            gone: false,
        }
    }

    /// Adds `events` in order (leaving the vector empty), sending each batch as it fills:
    /// the batches one event at a time would have made.
    pub fn extend(&mut self, events: &mut Vec<halfopen_tcp::Event>) {
        let mut from = 0;
        while from < events.len() {
            let room = EVENT_BATCH.saturating_sub(self.batch.events.len()).max(1);
            let to = events.len().min(from + room);
            self.batch
                .events
                .extend_from_slice(events.get(from..to).unwrap_or_default());
            from = to;
            self.send_if_full();
        }
        events.clear();
    }

    /// Sends the batch if it is full (drops its events once the tracking thread is gone, so
    /// the batch never grows past its size).
    pub fn send_if_full(&mut self) {
        if !self.batch.full() {
            return;
        }
        if !self.gone {
            self.gone = !self.link.send_batch(&mut self.batch);
        }
        if self.gone {
            self.batch.clear();
        }
    }

    /// Sends what is left.
    pub fn flush(&mut self) {
        if !self.gone {
            self.gone = !self.link.send_batch(&mut self.batch);
        }
    }

    /// Tells the tracking thread what the input shows.
    pub fn send_form(&self, f: InputForm) {
        self.link.send_form(f);
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::mpsc::sync_channel;

    use super::{EVENT_BATCH, Link, Outbox};

    /// Once the tracking thread is gone, the reading thread goes on counting lines but keeps
    /// no events: its batch stays within its size however long the input.
    #[test]
    fn a_gone_receiver_keeps_the_batch_bounded() {
        let (tx, rx) = sync_channel(1);
        let (_spare_tx, spare) = sync_channel(1);
        drop(rx);
        let link = Link { tx, spare };
        let mut out = Outbox::new(&link);
        let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let b = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
        for round in 0..10 {
            let mut events: Vec<halfopen_tcp::Event> = (0..EVENT_BATCH * 3)
                .map(|i| halfopen_tcp::Event::new(i as i64, a, 40000, b, 80))
                .collect();
            out.extend(&mut events);
            assert!(events.is_empty());
            assert!(
                out.batch.events.len() <= EVENT_BATCH,
                "round {round}: {} events held",
                out.batch.events.len()
            );
        }
    }
}
