//! Arbitrary bytes on a FIX connection: framer, parser, session and order-entry mapping, as
//! the gateway runs them (see `tokex_fix::fuzz_entry`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tokex_fix::fuzz_entry(data);
});
