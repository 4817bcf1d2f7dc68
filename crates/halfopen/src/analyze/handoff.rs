//! The connections stage and the correlation and rollup stages on two threads.
//!
//! The connection tracker tells its [`ConnSink`] what each input shows, each connection that
//! ended and how far the firewall time has gone. [`Handoff`] is a sink that records those
//! calls in order and hands them over in batches; [`replay`] makes the same calls, in the same
//! order, on the real sink on another thread. Nothing flows back, so the sink ends in the state
//! one thread would have left it in: every answer is the same.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::connections::ConnSink;
use crate::evidence::InputForm;
use crate::facts::ConnFacts;

/// Calls handed over at a time.
const CALLS_PER_BATCH: usize = 512;

/// Batches in the channel (and used batches coming back) at most.
const BATCHES: usize = 4;

/// One call the tracker made on its sink. Nearly every call is a connection: boxing it to
/// shrink the rare others would cost an allocation per connection.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Call {
    Form(usize, InputForm),
    Connection(ConnFacts),
    Tick(i64),
    InputEnded,
}

/// A sink that hands its calls to [`replay`] on another thread.
#[derive(Debug)]
pub struct Handoff {
    tx: SyncSender<Vec<Call>>,
    spare: Receiver<Vec<Call>>,
    calls: Vec<Call>,
}

/// The receiving end: batches of calls, and the way used batches go back.
#[derive(Debug)]
pub struct Calls {
    rx: Receiver<Vec<Call>>,
    spare: SyncSender<Vec<Call>>,
}

/// A connected [`Handoff`] and [`Calls`].
pub fn channel() -> (Handoff, Calls) {
    let (tx, rx) = sync_channel(BATCHES);
    let (spare_tx, spare_rx) = sync_channel(BATCHES);
    (
        Handoff {
            tx,
            spare: spare_rx,
            calls: Vec::with_capacity(CALLS_PER_BATCH),
        },
        Calls {
            rx,
            spare: spare_tx,
        },
    )
}

impl Handoff {
    fn push(&mut self, call: Call) {
        self.calls.push(call);
        if self.calls.len() >= CALLS_PER_BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        if self.calls.is_empty() {
            return;
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CALLS_PER_BATCH));
        let full = std::mem::replace(&mut self.calls, next);
        // The receiver is gone only if its thread panicked; the scope reports that.
        let _ = self.tx.send(full);
    }

    /// Hands over what is left and hangs up: [`replay`] returns once it has made every call.
    pub fn finish(mut self) {
        self.send();
    }
}

impl ConnSink for Handoff {
    fn form(&mut self, input: usize, form: &InputForm) {
        self.push(Call::Form(input, form.clone()));
    }

    fn connection(&mut self, c: ConnFacts) {
        self.push(Call::Connection(c));
    }

    fn tick(&mut self, fw_now: i64) {
        self.push(Call::Tick(fw_now));
    }

    fn input_ended(&mut self) {
        self.push(Call::InputEnded);
    }
}

/// Makes every call handed over by the [`Handoff`] on `sink`, in order, until it hangs up.
pub fn replay(calls: Calls, sink: &mut impl ConnSink) {
    let Calls { rx, spare } = calls;
    for mut batch in rx {
        for call in batch.drain(..) {
            match call {
                Call::Form(input, form) => sink.form(input, &form),
                Call::Connection(c) => sink.connection(c),
                Call::Tick(fw_now) => sink.tick(fw_now),
                Call::InputEnded => sink.input_ended(),
            }
        }
        let _ = spare.try_send(batch);
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::evidence::Shows;

    /// Records the calls it gets.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl ConnSink for Log {
        fn form(&mut self, input: usize, form: &InputForm) {
            self.0.push(format!("form {input} {:?}", form.shows));
        }
        fn connection(&mut self, c: ConnFacts) {
            self.0.push(format!("conn {} {}", c.orig, c.start_us));
        }
        fn tick(&mut self, fw_now: i64) {
            self.0.push(format!("tick {fw_now}"));
        }
        fn input_ended(&mut self) {
            self.0.push("input ended".to_owned());
        }
    }

    fn calls(sink: &mut impl ConnSink) {
        sink.form(0, &InputForm::capture());
        for i in 0..2000u16 {
            let orig = SocketAddr::from(([192, 0, 2, 1], 1024 + i));
            let resp = SocketAddr::from(([198, 51, 100, 1], 80));
            sink.connection(ConnFacts::new(
                orig,
                resp,
                i64::from(i) * 1000,
                Shows::EveryPacket,
            ));
            if i % 7 == 0 {
                sink.tick(i64::from(i));
            }
        }
        sink.form(1, &InputForm::capture());
        sink.input_ended();
        sink.tick(i64::MAX);
    }

    #[test]
    fn the_sink_gets_every_call_in_order_on_the_other_thread() {
        let mut direct = Log::default();
        calls(&mut direct);
        let (mut handoff, rx) = channel();
        let replayed = std::thread::scope(|s| {
            let t = s.spawn(move || {
                let mut log = Log::default();
                replay(rx, &mut log);
                log
            });
            calls(&mut handoff);
            handoff.finish();
            t.join().expect("replay thread")
        });
        assert_eq!(replayed.0, direct.0);
        assert!(direct.0.len() > 2000);
    }
}
