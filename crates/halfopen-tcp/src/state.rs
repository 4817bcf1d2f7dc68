//! The per-endpoint TCP state machine, as a passive observer sees it (Zeek's model),
//! and the mapping of a pair of endpoint states to a `conn_state`.
//!
//! An observer cannot see a stack's real RFC 9293 state (§3.3.2): it sees segments on the
//! wire, possibly only one direction, possibly without the handshake. Each endpoint is
//! therefore tracked by what it has *sent*, in the seven states Zeek uses.

use crate::{ConnState, TcpFlags};

/// What one endpoint has been seen to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum EndpointState {
    /// Nothing seen from it yet (RFC 9293 CLOSED/LISTEN from our point of view).
    #[default]
    Inactive = 0,
    /// Sent a SYN (RFC 9293 §3.5 step 1: SYN-SENT).
    SynSent = 1,
    /// Sent a SYN-ACK (§3.5 step 2: the peer of a SYN-SENT is in SYN-RECEIVED).
    SynAckSent = 2,
    /// Sent data or ACKs without us having seen its SYN (a connection picked up midway).
    Partial = 3,
    /// Handshake seen (§3.5: ESTABLISHED).
    Established = 4,
    /// Sent a FIN (§3.6: FIN-WAIT-1 or LAST-ACK, depending on who closed first).
    Closed = 5,
    /// Sent a RST (§3.5.2 / §3.10.7: the connection is aborted).
    Reset = 6,
}

impl EndpointState {
    /// The state whose discriminant is in the low 3 bits of `b` (7 is read as `Reset`,
    /// which no packed state holds).
    pub(crate) fn from_bits(b: u8) -> EndpointState {
        match b & 7 {
            0 => EndpointState::Inactive,
            1 => EndpointState::SynSent,
            2 => EndpointState::SynAckSent,
            3 => EndpointState::Partial,
            4 => EndpointState::Established,
            5 => EndpointState::Closed,
            _ => EndpointState::Reset,
        }
    }

    /// Inactive or partial: no handshake seen from this side.
    pub fn is_inactive_or_partial(self) -> bool {
        matches!(self, EndpointState::Inactive | EndpointState::Partial)
    }
}

/// An endpoint's current and previous state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Endpoint {
    /// Current state.
    pub state: EndpointState,
    /// State before the last change.
    pub prev: EndpointState,
}

impl Endpoint {
    fn set(&mut self, s: EndpointState) {
        self.prev = self.state;
        self.state = s;
    }
}

/// What a segment did to the connection as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transition {
    /// The segment was a SYN answering the other side's SYN-ACK: the side we called
    /// originator is really the responder, swap them.
    pub flip: bool,
    /// The sender finished its side (FIN or RST).
    pub closed: bool,
}

/// Applies one segment with known flags, sent by the originator when `from_orig`,
/// to the pair of endpoints. This is the whole state machine.
///
/// ```
/// use halfopen_tcp::state::{transition, Endpoint, EndpointState};
/// use halfopen_tcp::TcpFlags;
/// let (mut o, mut r) = (Endpoint::default(), Endpoint::default());
/// transition(&mut o, &mut r, true, TcpFlags::SYN, 0);
/// transition(&mut o, &mut r, false, TcpFlags::SYN | TcpFlags::ACK, 0);
/// assert_eq!((o.state, r.state), (EndpointState::Established, EndpointState::Established));
/// ```
pub fn transition(
    orig: &mut Endpoint,
    resp: &mut Endpoint,
    from_orig: bool,
    flags: TcpFlags,
    payload_len: u32,
) -> Transition {
    let (me, peer) = if from_orig {
        (orig, resp)
    } else {
        (resp, orig)
    };
    let mut t = Transition::default();
    match me.state {
        EndpointState::Inactive => {
            if flags.syn() {
                if from_orig {
                    // §3.5 step 1 (or a SYN-ACK from the side that spoke first: odd but
                    // recorded as such).
                    me.set(if flags.ack() {
                        EndpointState::SynAckSent
                    } else {
                        EndpointState::SynSent
                    });
                } else {
                    if !flags.ack() && peer.state == EndpointState::SynAckSent {
                        // We saw the SYN-ACK before the SYN it answers (capture reordering
                        // or a missed first SYN): the roles are the other way round.
                        t.flip = true;
                        peer.set(EndpointState::Established);
                    }
                    // §3.5 step 2: a SYN-ACK answering a SYN establishes both sides
                    // (from the observer's point of view; simultaneous open, §3.5 figure 7,
                    // ends the same way).
                    if peer.state == EndpointState::SynSent {
                        peer.set(EndpointState::Established);
                    }
                    me.set(EndpointState::Established);
                }
            }
            if flags.fin() {
                me.set(EndpointState::Closed);
                t.closed = true;
            }
            if flags.rst() {
                me.set(EndpointState::Reset);
                t.closed = true;
            }
            if me.state == EndpointState::Inactive {
                if !from_orig && payload_len == 0 && peer.state == EndpointState::SynSent {
                    // Some stacks ACK a SYN before answering it: not a partial connection.
                } else if flags.ack() && peer.state == EndpointState::Established {
                    // We missed this side's SYN but saw the peer's SYN-ACK: established.
                    me.set(EndpointState::Established);
                } else {
                    me.set(EndpointState::Partial);
                }
            }
        }
        EndpointState::SynSent | EndpointState::SynAckSent => {
            // §3.10.7.3: in SYN-SENT only a SYN-ACK from the peer moves us on (handled
            // in the peer's branch); a FIN or RST from us ends our side.
            if flags.fin() {
                me.set(EndpointState::Closed);
                t.closed = true;
            }
            if flags.rst() {
                me.set(EndpointState::Reset);
                t.closed = true;
            }
        }
        EndpointState::Established | EndpointState::Partial => {
            if flags.syn()
                && !flags.ack()
                && me.state == EndpointState::Partial
                && peer.state == EndpointState::Inactive
            {
                me.set(EndpointState::SynSent);
            }
            if flags.fin() && !flags.rst() {
                // §3.6: our side is closing.
                me.set(EndpointState::Closed);
                if peer.state == EndpointState::Reset && peer.prev == EndpointState::Closed {
                    // The peer sent FIN then RST: a normal close after all.
                    peer.set(EndpointState::Closed);
                }
                t.closed = true;
            }
            if flags.rst() {
                me.set(EndpointState::Reset);
                t.closed = true;
            }
        }
        EndpointState::Closed => {
            // §3.10.7.4: a RST after our FIN aborts, unless both sides had closed.
            if flags.rst() && peer.state != EndpointState::Closed {
                me.set(EndpointState::Reset);
                t.closed = true;
            }
        }
        EndpointState::Reset => {}
    }
    t
}

/// Zeek's `conn_state` for a pair of endpoint states (`scripts/base/protocols/conn/main.zeek`).
/// `no_bytes` is true when neither side sent payload; `history` is the connection's history.
pub fn conn_state(
    orig: EndpointState,
    resp: EndpointState,
    no_bytes: bool,
    history: &[u8],
) -> ConnState {
    use EndpointState as E;
    let o_inactive = orig.is_inactive_or_partial();
    let r_inactive = resp.is_inactive_or_partial();
    if resp == E::Reset {
        if matches!(orig, E::SynSent | E::SynAckSent) || (orig == E::Reset && no_bytes) {
            ConnState::REJ
        } else if o_inactive {
            ConnState::RSTRH
        } else {
            ConnState::RSTR
        }
    } else if orig == E::Reset {
        if r_inactive {
            if syn_then_rst(history) {
                ConnState::RSTOS0
            } else {
                ConnState::OTH
            }
        } else {
            ConnState::RSTO
        }
    } else if resp == E::Closed && orig == E::Closed {
        ConnState::SF
    } else if orig == E::Closed {
        if r_inactive {
            ConnState::SH
        } else {
            ConnState::S2
        }
    } else if resp == E::Closed {
        if o_inactive {
            ConnState::SHR
        } else {
            ConnState::S3
        }
    } else if orig == E::SynSent && resp == E::Inactive {
        ConnState::S0
    } else if orig == E::Established && resp == E::Established {
        ConnState::S1
    } else {
        ConnState::OTH
    }
}

/// The `conn_state` of a connection known only by its history letters (for example two
/// pieces of one connection seen by runs over consecutive days, joined with
/// [`crate::History::append`]): the letters replayed through [`transition`] as the segments
/// they stand for. `no_bytes`: neither side sent payload.
///
/// ```
/// use halfopen_tcp::{ConnState, state::state_of_history};
/// assert_eq!(state_of_history(b"S", true), ConnState::S0);
/// assert_eq!(state_of_history(b"ShADadFf", false), ConnState::SF);
/// assert_eq!(state_of_history(b"Sr", true), ConnState::REJ);
/// ```
pub fn state_of_history(history: &[u8], no_bytes: bool) -> ConnState {
    let (mut o, mut r) = (Endpoint::default(), Endpoint::default());
    for &c in history {
        let flags = match c.to_ascii_uppercase() {
            b'S' => TcpFlags::SYN,
            b'H' => TcpFlags::SYN | TcpFlags::ACK,
            b'A' | b'D' => TcpFlags::ACK,
            b'F' => TcpFlags::FIN | TcpFlags::ACK,
            b'R' => TcpFlags::RST,
            b'I' => TcpFlags::FIN | TcpFlags::RST,
            _ => continue,
        };
        let payload = u32::from(c.eq_ignore_ascii_case(&b'D'));
        transition(&mut o, &mut r, c.is_ascii_uppercase(), flags, payload);
    }
    conn_state(o.state, r.state, no_bytes, history)
}

/// Zeek's `/^\^?S[^HAFGIQ]*R.*$/`: the originator sent a SYN, then a RST, and nothing that
/// shows a handshake or a close in between.
fn syn_then_rst(history: &[u8]) -> bool {
    let rest = history.strip_prefix(b"^").unwrap_or(history);
    let Some(rest) = rest.strip_prefix(b"S") else {
        return false;
    };
    for &c in rest {
        if c == b'R' {
            return true;
        }
        if b"HAFGIQ".contains(&c) {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_bits_reads_every_discriminant() {
        use EndpointState::*;
        for s in [
            Inactive,
            SynSent,
            SynAckSent,
            Partial,
            Established,
            Closed,
            Reset,
        ] {
            assert_eq!(EndpointState::from_bits(s as u8), s);
            // Only the low 3 bits count (the rest of a packed byte is other state).
            assert_eq!(EndpointState::from_bits(s as u8 | 0xf8), s);
        }
        assert_eq!(EndpointState::from_bits(7), Reset);
    }

    #[test]
    fn rstos0_pattern() {
        assert!(syn_then_rst(b"SR"));
        assert!(syn_then_rst(b"SaR"));
        assert!(syn_then_rst(b"^SdR"));
        assert!(!syn_then_rst(b"SaFR"));
        assert!(!syn_then_rst(b"R"));
    }

    /// Replaying a connection's history gives the state the flow table gave it, for the
    /// shapes a web server's connections take (the same letters, one segment each).
    #[test]
    fn history_replay_agrees_with_the_table() {
        use crate::{Config, Event, FlowTable};
        const S: TcpFlags = TcpFlags::SYN;
        const A: TcpFlags = TcpFlags::ACK;
        const F: TcpFlags = TcpFlags::FIN;
        const R: TcpFlags = TcpFlags::RST;
        let shapes: [&[(bool, TcpFlags, u32)]; 10] = [
            &[(true, S, 0)],
            &[(true, S, 0), (false, S | A, 0)],
            &[(true, S, 0), (false, R | A, 0)],
            &[(true, S, 0), (false, S | A, 0), (true, R, 0)],
            &[
                (true, S, 0),
                (false, S | A, 0),
                (true, A, 0),
                (true, A, 100),
            ],
            &[
                (true, S, 0),
                (false, S | A, 0),
                (true, A, 0),
                (true, A, 100),
                (false, A, 500),
                (true, F | A, 0),
                (false, F | A, 0),
            ],
            &[
                (true, S, 0),
                (false, S | A, 0),
                (true, A, 0),
                (false, F | A, 0),
            ],
            &[(false, S | A, 0), (false, S | A, 0)],
            &[(true, A, 100), (false, A, 0)],
            &[(true, S, 0), (true, F, 0)],
        ];
        let (c, srv) = (
            "192.0.2.1".parse().unwrap(),
            "198.51.100.7".parse().unwrap(),
        );
        for shape in shapes {
            let mut t = FlowTable::new(Config::default());
            for (i, (from_client, flags, len)) in shape.iter().enumerate() {
                let ts = i as i64 * 1000;
                let mut e = match from_client {
                    true => Event::new(ts, c, 40000, srv, 80),
                    false => Event::new(ts, srv, 80, c, 40000),
                }
                .with_flags(*flags);
                e.payload_len = Some(*len);
                t.observe(&e);
            }
            t.finish();
            let conn = t.pop_finished().expect("one connection");
            let no_bytes = conn.orig_bytes.unwrap_or(0) + conn.resp_bytes.unwrap_or(0) == 0;
            assert_eq!(
                state_of_history(conn.history.as_bytes(), no_bytes),
                conn.state,
                "{}",
                conn.history
            );
        }
    }

    #[test]
    fn flags_imply_states() {
        let (mut o, mut r) = (Endpoint::default(), Endpoint::default());
        transition(&mut o, &mut r, true, TcpFlags::SYN, 0);
        assert_eq!(conn_state(o.state, r.state, true, b"S"), ConnState::S0);
        let t = transition(&mut o, &mut r, false, TcpFlags::RST | TcpFlags::ACK, 0);
        assert!(t.closed);
        assert_eq!(conn_state(o.state, r.state, true, b"Sr"), ConnState::REJ);
    }
}
