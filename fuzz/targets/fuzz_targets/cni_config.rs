//! A CNI network configuration on stdin, whatever its bytes: parsed or
//! refused with the spec's error object; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vepa_fuzz_bodies::cni_config(data));
