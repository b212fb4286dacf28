//! Model-based property test: random operation sequences run single-threaded
//! against a real channel and against a plain reference model
//! (`tests/model/reference.rs`), comparing every observable answer after
//! every step (`tests/model/harness.rs`):
//!
//! - S1/S2: `take_signals` and `pending_signals` sets, `raised` counting only
//!   raises that made a signal newly pending, from the `Sender` and from
//!   `Raiser` clones;
//! - S3/S5/S7: every `send` result with the handed-back payload, every
//!   `try_recv` and every `drain` item (events with payloads, `Lost { first,
//!   count }` exactly where the drops stood, trailing gaps included; partial
//!   drains; sends while a drain is open); `free_slots`;
//! - S6: delivered + the sum of `Lost.count` == attempts at the end of a run,
//!   and every payload dropped exactly once (no leak, no double drop);
//! - S8: `overflow().lost()` after every step and `acknowledge` of a possibly
//!   stale `Overflow` clearing only the drops it saw;
//! - S9/S10: `wait(ZERO)`; a receiver that never hands its fd out makes no
//!   doorbell write and never parks; at most one write per park and none
//!   while the receiver is awake; once the fd is handed out, the fd is
//!   readable whenever the receiver is parked with something pending;
//! - S11: `is_closed` on both sides, `Closed` from `try_recv` only after
//!   everything was delivered, `Closed(v)`/`Err(Closed)` once the receiver is
//!   gone;
//! - `stats()` (`raised`, `coalesced`, `sent`, `dropped`, `delivered`) after
//!   every step.
//!
//! The channel is built with the options drawn for the run: the drop-oldest
//! policy (the newest `capacity` attempts kept, `Lost { first, count }`
//! right before the oldest surviving event, `send` never `Full`) and
//! overrun counts (`take_signals_counted` and `Stats::coalesced`); every run
//! also exercises the mask (`block`/`unblock`: blocked signals stay pending
//! but hidden from takes, `pending_signals` and readiness; an unblock of a
//! receiver parked for epoll makes the fd readable for what it shows) and
//! latest values (`raise_with`, `take_signals_with`).
//!
//! Cases: `EVENTSIG_PROPTEST_CASES` (default 2000; 20 under Miri).
//! The fuzz target `fuzz/fuzz_targets/ops.rs` runs the same harness.

#[path = "model/harness.rs"]
mod harness;
#[path = "model/reference.rs"]
mod reference;

use harness::{Mid, Op, Options, RAISERS};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn cases() -> u32 {
    if cfg!(miri) {
        return 20;
    }
    match std::env::var("EVENTSIG_PROPTEST_CASES") {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("EVENTSIG_PROPTEST_CASES={s:?} is not a number")),
        Err(_) => 2000,
    }
}

fn config(cases: u32) -> Config {
    let mut config = Config::with_cases(cases);
    if cfg!(miri) {
        // Miri's isolation forbids the regression file.
        config.failure_persistence = None;
    }
    config
}

/// Mostly a few low signals, so raises coalesce; sometimes any of the 64.
fn signal() -> impl Strategy<Value = u32> {
    prop_oneof![8 => 0u32..6, 1 => 0u32..64]
}

/// A set of signals for the mask: mostly of the low ones, sometimes all.
fn signal_bits() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 0u64..64, 1 => Just(u64::MAX), 1 => any::<u64>()]
}

/// Half the runs on the default channel, the rest with the options.
fn options() -> impl Strategy<Value = Options> {
    (1usize..=8, 0u8..4).prop_map(|(cap, options)| Options {
        cap,
        drop_oldest: options & 1 != 0,
        counts: options & 2 != 0,
    })
}

fn mid() -> impl Strategy<Value = Mid> {
    prop_oneof![
        3 => any::<u32>().prop_map(Mid::Send),
        1 => signal().prop_map(Mid::Raise),
        1 => Just(Mid::FreeSlots),
    ]
}

fn drain() -> impl Strategy<Value = Op> {
    let mids = prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(mid(), 1..4)];
    (prop::option::of(0usize..10), mids, any::<bool>()).prop_map(|(limit, mid, finish)| Op::Drain {
        limit,
        mid,
        finish,
    })
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..RAISERS;
    prop_oneof![
        40 => any::<u32>().prop_map(Op::Send),
        4 => (0u8..10, any::<u32>()).prop_map(|(n, base)| Op::SendIter(n, base)),
        12 => signal().prop_map(Op::Raise),
        10 => (k.clone(), signal()).prop_map(|(k, s)| Op::RaiseFromRaiser(k, s)),
        4 => k.clone().prop_map(Op::NewRaiser),
        3 => (k.clone(), k.clone()).prop_map(|(k, j)| Op::CloneRaiser(k, j)),
        4 => k.clone().prop_map(Op::DropRaiser),
        4 => (signal(), 0u64..4).prop_map(|(s, v)| Op::RaiseWith(s, v)),
        3 => (k, signal(), 0u64..4).prop_map(|(k, s, v)| Op::RaiseWithFromRaiser(k, s, v)),
        10 => Just(Op::TakeSignals),
        4 => Just(Op::TakeSignalsWith),
        4 => Just(Op::TakeSignalsCounted),
        3 => signal_bits().prop_map(Op::Block),
        3 => signal_bits().prop_map(Op::Unblock),
        3 => Just(Op::PendingSignals),
        20 => Just(Op::TryRecv),
        12 => drain(),
        6 => Just(Op::Overflow),
        6 => Just(Op::Acknowledge),
        4 => Just(Op::FreeSlots),
        3 => Just(Op::Stats),
        3 => Just(Op::WaitZero),
        3 => Just(Op::Expose),
        2 => Just(Op::CloseSender),
        1 => Just(Op::CloseReceiver),
    ]
}

proptest! {
    #![proptest_config(config(cases()))]

    #[test]
    fn channel_matches_the_reference_model(
        options in options(),
        ops in prop::collection::vec(op(), 0..64),
    ) {
        harness::run_with(options, &ops);
    }
}

proptest! {
    #![proptest_config(config(cases() / 10 + 1))]

    /// The fuzz target's decoder, so it stays compiled and sound in CI.
    #[test]
    fn fuzz_decoder_runs(data in prop::collection::vec(any::<u8>(), 0..256)) {
        let (options, ops) = harness::decode(&data);
        prop_assert!((1..=8).contains(&options.cap));
        harness::run_with(options, &ops);
    }
}

/// The examples from the docs, as fixed sequences: the trailing gap (S7),
/// sticky overflow with a stale acknowledgement (S8), a drain open across
/// sends (slots freed once per batch), and close after raisers (S11).
#[test]
fn fixed_sequences() {
    use Op::*;
    harness::run(
        2,
        &[
            Send(0),
            Send(1),
            Send(2),
            Send(3),
            Send(4),
            Drain {
                limit: None,
                mid: vec![],
                finish: true,
            },
        ],
    );
    harness::run(
        1,
        &[
            Send(0),
            Send(1),
            Overflow,
            Send(2),
            Acknowledge,
            Overflow,
            Acknowledge,
            Stats,
        ],
    );
    harness::run(
        1,
        &[
            Send(7),
            Send(8),
            Drain {
                limit: Some(1),
                mid: vec![Mid::Send(9), Mid::FreeSlots],
                finish: true,
            },
            TryRecv,
            TryRecv,
        ],
    );
    harness::run(
        3,
        &[
            NewRaiser(0),
            CloneRaiser(1, 0),
            Send(1),
            CloseSender,
            TryRecv,
            DropRaiser(0),
            TryRecv,
            RaiseFromRaiser(1, 2),
            DropRaiser(1),
            TryRecv,
            TakeSignals,
        ],
    );
    harness::run(
        2,
        &[
            Expose,
            Send(1),
            TryRecv,
            TryRecv,
            Raise(3),
            WaitZero,
            Expose,
            TryRecv,
            CloseSender,
            Drain {
                limit: Some(0),
                mid: vec![],
                finish: false,
            },
        ],
    );
}

/// The options, as fixed sequences: the drop-oldest doc example (newest kept,
/// the gap before the oldest survivor), a gap that grows past the drain's
/// start while it is open, and events taken by an open drain that can no
/// longer be evicted; the mask with a parked epoll receiver; values and
/// counts through every kind of take.
#[test]
fn fixed_sequences_with_options() {
    use Op::*;
    let oldest = |cap| Options {
        cap,
        drop_oldest: true,
        counts: false,
    };
    let drain_all = || Drain {
        limit: None,
        mid: vec![],
        finish: true,
    };
    harness::run_with(
        oldest(2),
        &[
            Send(0),
            Send(1),
            Send(2),
            Send(3),
            Send(4),
            Overflow,
            drain_all(),
            Stats,
        ],
    );
    harness::run_with(
        oldest(1),
        &[
            Send(0),
            Drain {
                limit: Some(0),
                mid: vec![Mid::Send(1), Mid::Send(2), Mid::Send(3), Mid::FreeSlots],
                finish: true,
            },
            TryRecv,
            TryRecv,
        ],
    );
    harness::run_with(
        oldest(2),
        &[
            Send(0),
            Send(1),
            Drain {
                limit: Some(1),
                mid: vec![Mid::Send(2), Mid::Send(3), Mid::FreeSlots],
                finish: true,
            },
            FreeSlots,
            drain_all(),
        ],
    );
    harness::run_with(
        Options::plain(2),
        &[
            Block(0b11),
            Raise(0),
            Expose,
            TryRecv,
            Raise(1),
            WaitZero,
            Unblock(0b01),
            TakeSignals,
            Unblock(u64::MAX),
            TakeSignals,
        ],
    );
    harness::run_with(
        Options {
            cap: 1,
            drop_oldest: false,
            counts: true,
        },
        &[
            RaiseWith(4, 1),
            RaiseWith(4, 2),
            Raise(5),
            Raise(5),
            Raise(5),
            TakeSignalsWith,
            Block(1 << 4),
            RaiseWith(4, 3),
            TakeSignalsCounted,
            Unblock(1 << 4),
            Raise(4),
            TakeSignalsCounted,
            Raise(6),
            Raise(6),
            TakeSignals,
            Stats,
        ],
    );
}
