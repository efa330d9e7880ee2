//! Software segmentation of a guest's super-frame: whatever the header
//! and the frame, no panic, and never more than MAX_SEGMENTS segments, none
//! longer than the frame.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vepa_fuzz_bodies::gso_segment(data));
