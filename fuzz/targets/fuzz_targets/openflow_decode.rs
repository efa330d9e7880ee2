//! A controller's message, whatever its bytes: decoded (or refused with an
//! OpenFlow error), and what a flow, group, meter or packet-out asks for
//! converted to the dataplane's terms and checked, as the daemon does.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vepa_fuzz_bodies::openflow_decode(data));
