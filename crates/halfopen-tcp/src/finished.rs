//! The queue of finished connections, in the order they ended. Half-open attempts that
//! leave the SYN cache (evicted or timed out: millions per second under a flood) queue in
//! their 60-byte compact form and become a [`Connection`] only when taken.

use std::collections::VecDeque;

use crate::flow::CompactSyn;
use crate::key::{FlowKey, V4Key};
use crate::{Connection, EndReason};

/// A finished SYN-cache flow.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct SynRecord {
    key: V4Key,
    syn: CompactSyn,
    end: EndReason,
}

impl SynRecord {
    const EMPTY: SynRecord = SynRecord {
        key: V4Key::ZERO,
        syn: CompactSyn::EMPTY,
        end: EndReason::Evicted,
    };
}

/// Finished connections, in order: full records and compact SYN-cache records, with the
/// interleaving kept as runs.
#[derive(Default)]
pub(crate) struct Finished {
    conns: VecDeque<Connection>,
    /// SYN-cache records: `syns[syn_head..syn_tail]` are queued; the rest of the vector
    /// is reused space (records are written field by field in place: no temporary).
    syns: Vec<SynRecord>,
    syn_head: usize,
    syn_tail: usize,
    /// Runs of (from `syns`, count), oldest first, before the open run `last`.
    runs: VecDeque<(bool, u32)>,
    /// The newest run (count 0: none): records of one kind in a row only count here,
    /// a run is pushed to `runs` when the kind switches.
    last: (bool, u32),
}

impl Finished {
    #[inline]
    fn mark(&mut self, syn: bool) {
        let (s, n) = &mut self.last;
        if *s == syn && *n < u32::MAX {
            *n += 1;
        } else {
            if *n > 0 {
                self.runs.push_back(self.last);
            }
            self.last = (syn, 1);
        }
    }

    /// Queues a finished connection.
    pub(crate) fn push(&mut self, c: Connection) {
        self.conns.push_back(c);
        self.mark(false);
    }

    /// Queues a finished SYN-cache flow.
    #[inline]
    pub(crate) fn push_syn(&mut self, k: &V4Key, c: &CompactSyn, end: EndReason) {
        if self.syn_head == self.syn_tail {
            self.syn_head = 0;
            self.syn_tail = 0;
        }
        if self.syn_tail == self.syns.len() {
            let n = self.syns.len().max(64);
            self.syns.resize(self.syns.len() + n, SynRecord::EMPTY);
        }
        if let Some(r) = self.syns.get_mut(self.syn_tail) {
            r.key = *k;
            r.syn = *c;
            r.end = end;
        }
        self.syn_tail += 1;
        self.mark(true);
    }

    /// The oldest finished connection.
    pub(crate) fn pop(&mut self) -> Option<Connection> {
        self.pop_with(Connection::clone)
    }

    /// Takes the oldest finished connection and hands it to `f` by reference.
    #[inline]
    pub(crate) fn pop_with<R>(&mut self, f: impl FnOnce(&Connection) -> R) -> Option<R> {
        if self.next_is_syn()? {
            let r = self.syns.get(self.syn_head)?;
            self.syn_head += 1;
            Some(f(&compact_connection(&r.key, &r.syn, r.end)))
        } else {
            self.conns.pop_front().map(|c| f(&c))
        }
    }

    /// Takes every finished connection, oldest first, handing each to `f` by reference;
    /// returns how many. The same as a [`Finished::pop_with`] loop (each record is taken
    /// before `f` sees it), a run at a time.
    pub(crate) fn drain_with(&mut self, mut f: impl FnMut(&Connection)) -> usize {
        let mut taken = 0;
        loop {
            let queued = !self.runs.is_empty();
            let (syn, n) = match self.runs.front_mut() {
                Some((syn, n)) => (*syn, n),
                None => (self.last.0, &mut self.last.1),
            };
            if *n == 0 {
                return taken;
            }
            if syn {
                let head = self.syn_head;
                let run = self.syns.get(head..head + *n as usize).unwrap_or(&[]);
                // One value overwritten in place for each record of the run (see
                // `CompactSyn::write_connection`).
                let mut scratch: Option<Connection> = None;
                for r in run {
                    *n -= 1;
                    self.syn_head += 1;
                    taken += 1;
                    let (orig, resp) = orig_resp(&r.key, &r.syn);
                    let c = scratch.get_or_insert_with(|| Connection::blank(orig, resp));
                    r.syn.write_connection(orig, resp, r.end, c);
                    f(c);
                }
            } else {
                while *n > 0 {
                    *n -= 1;
                    let Some(c) = self.conns.pop_front() else {
                        break;
                    };
                    taken += 1;
                    f(&c);
                }
            }
            if *n > 0 {
                // Never: the runs count exactly what is queued.
                return taken;
            }
            if queued {
                self.runs.pop_front();
            }
        }
    }

    /// Whether the oldest record is a SYN-cache record (and takes its place in the runs).
    #[inline]
    fn next_is_syn(&mut self) -> Option<bool> {
        let Some((syn, n)) = self.runs.front_mut() else {
            let (syn, n) = &mut self.last;
            *n = n.checked_sub(1)?;
            return Some(*syn);
        };
        let syn = *syn;
        *n -= 1;
        if *n == 0 {
            self.runs.pop_front();
        }
        Some(syn)
    }
}

/// A SYN-cache entry's originator and responder.
#[inline(always)]
fn orig_resp(k: &V4Key, c: &CompactSyn) -> (std::net::SocketAddr, std::net::SocketAddr) {
    let (a, b) = k.endpoints();
    if c.orig_is_a() { (a, b) } else { (b, a) }
}

/// The connection a SYN-cache entry stands for.
pub(crate) fn compact_connection(k: &V4Key, c: &CompactSyn, end: EndReason) -> Connection {
    let (orig, resp) = orig_resp(k, c);
    c.connection(orig, resp, end)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::net::{IpAddr, Ipv4Addr};

    use proptest::prelude::*;

    use super::{Finished, compact_connection};
    use crate::flow::CompactSyn;
    use crate::key::V4Key;
    use crate::{EndReason, Event, TcpFlags};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Full and compact records come out in the order they went in, however they
        /// interleave with each other and with the takes (one at a time, or all).
        #[test]
        fn records_keep_their_order(ops in proptest::collection::vec(0u8..4, 0..300)) {
            let (mut q, mut want) = (Finished::default(), VecDeque::new());
            for (i, op) in ops.into_iter().enumerate() {
                let src = Ipv4Addr::from(i as u32);
                let dst = Ipv4Addr::new(192, 0, 2, 10);
                let (k, a) = V4Key::new(src, 4000, dst, 80);
                let ev = Event::new(i as i64, IpAddr::V4(src), 4000, IpAddr::V4(dst), 80)
                    .with_flags(TcpFlags::SYN);
                let c = CompactSyn::first_syn(&ev, a).unwrap_or_default();
                match op {
                    0 => {
                        q.push_syn(&k, &c, EndReason::Evicted);
                        want.push_back(compact_connection(&k, &c, EndReason::Evicted));
                    }
                    1 => {
                        let conn = compact_connection(&k, &c, EndReason::Timeout);
                        q.push(conn.clone());
                        want.push_back(conn);
                    }
                    2 => prop_assert_eq!(q.pop(), want.pop_front()),
                    _ => {
                        let mut got = Vec::new();
                        let n = q.drain_with(|c| got.push(c.clone()));
                        prop_assert_eq!(n, got.len());
                        prop_assert_eq!(got, want.drain(..).collect::<Vec<_>>());
                    }
                }
            }
            while let Some(w) = want.pop_front() {
                prop_assert_eq!(q.pop(), Some(w));
            }
            prop_assert_eq!(q.pop(), None);
        }
    }
}
