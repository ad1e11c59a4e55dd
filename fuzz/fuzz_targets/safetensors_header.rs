//! Safetensors header: length prefix, JSON, dtypes, offsets and the exact-coverage rule.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realizar::format::safetensors::Safetensors;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = Safetensors::parse(data) else {
        return;
    };
    let h = file.header();
    let mut covered = 0u64;
    for t in file.tensors() {
        assert_eq!(t.data.len() as u64, t.info.size());
        assert_eq!(t.info.begin, covered, "tensors are contiguous");
        covered = t.info.end;
        let elements: u64 = t.info.shape.iter().product();
        assert_eq!(elements * t.info.dtype.size(), t.info.size());
    }
    assert_eq!(h.data_start() + covered, data.len() as u64);
});
