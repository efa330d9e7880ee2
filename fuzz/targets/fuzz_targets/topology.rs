//! A topology file or an API body, whatever its bytes: parsed and checked
//! whole, or refused with an error naming the field; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vepa_fuzz_bodies::topology(data));
