//! A frame's flow key, and the frame written back with a flow's header
//! changes: no panic on any frame, and what is written parses again.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vepa_fuzz_bodies::flow_key(data));
