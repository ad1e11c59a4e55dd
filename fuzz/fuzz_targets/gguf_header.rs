//! Header and key-value section: magic, version, counts, every value type, nested arrays.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realizar::format::gguf::{Preamble, MAX_ARRAY_DEPTH};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Preamble::read(data, data.len() as u64) {
        assert!(matches!(p.version, 2 | 3));
        assert!(p.alignment.is_power_of_two());
        for (key, value) in p.metadata.iter() {
            assert!(!key.is_empty());
            if let Some(array) = value.as_array() {
                assert!(array.depth() <= MAX_ARRAY_DEPTH);
                // Everything allocated was justified by input bytes.
                assert!(array.len() <= data.len());
            }
        }
    }
});
