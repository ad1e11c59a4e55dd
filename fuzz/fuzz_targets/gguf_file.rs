//! The whole file: tensor infos, layout and data bounds; an accepted file must also survive a
//! write-read round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realizar::format::gguf::{Gguf, GgufWriter};

fuzz_target!(|data: &[u8]| {
    let Ok(file) = Gguf::parse(data) else { return };
    let h = file.header();
    assert_eq!(h.data_start + h.data_len, data.len() as u64);
    assert_eq!(file.tensors().count(), h.tensors().len());
    for t in file.tensors() {
        assert_eq!(t.data.len() as u64, t.info.size);
        assert_eq!(t.info.offset % h.alignment, 0);
        assert!(t.info.offset + t.info.size <= h.data_len);
    }

    let w = GgufWriter::copy_of(&file).expect("what the reader accepts, the writer accepts");
    let again = w.to_bytes();
    let reread = Gguf::parse(again.as_slice()).expect("writer output must parse");
    assert_eq!(
        format!("{:?}", reread.header().metadata),
        format!("{:?}", h.metadata)
    );
    for (a, b) in reread.tensors().zip(file.tensors()) {
        assert_eq!(
            (&a.info.name, &a.info.dims, a.info.ggml_type),
            (&b.info.name, &b.info.dims, b.info.ggml_type)
        );
        assert_eq!(a.data, b.data);
    }
});
