//! A guest's transmit ring (descriptor table, available ring, buffers,
//! virtio-net headers) made of the input: read as the port reads it,
//! without a panic or a read outside guest memory.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vepa_fuzz_bodies::vhost_user_ring(data));
