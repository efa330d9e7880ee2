//! Datagrams from a known VTEP, whatever their bytes, through a VXLAN
//! port's receive path (header checks, learning, ARP snooping, the
//! coalescing of what the kernel batched): no panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vepa_fuzz_bodies::vxlan_receive(data));
