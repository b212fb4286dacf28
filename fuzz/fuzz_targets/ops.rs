//! Fuzzes the channel against the reference model: the input bytes decode to
//! the channel's options (capacity, drop-oldest policy, overrun counts) and
//! an operation sequence (`harness::decode`; it includes the mask, latest
//! values and counted takes), which runs on a real channel and on the model
//! of `tests/model/reference.rs`, comparing every observable answer (the
//! same harness as `tests/model.rs`).

#![no_main]

#[path = "../../tests/model/harness.rs"]
mod harness;
#[path = "../../tests/model/reference.rs"]
mod reference;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (options, ops) = harness::decode(data);
    harness::run_with(options, &ops);
});
