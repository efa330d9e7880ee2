//! `ovs-ofctl` flow and group text, whatever it says: parsed or refused
//! with an error naming the part, and a parsed flow formats and parses
//! back.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vepa_fuzz_bodies::flow_text(data));
