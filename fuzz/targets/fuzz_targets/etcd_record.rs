//! Another host's record as read from etcd, whatever its bytes: refused
//! with a reason or taken, and a taken one weighed against this host's
//! without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vepa_fuzz_bodies::etcd_record(data));
