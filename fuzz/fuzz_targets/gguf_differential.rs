//! The same bytes through three read paths must give the same result: an in-memory slice, a
//! stream that returns a few bytes per read (image-png's buf_independent idea), and a memory map
//! of a file holding the bytes.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use realizar::format::gguf::{Gguf, GgufHeader};

struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Debug text: NaN metadata would make `PartialEq` fail where the parses agree.
fn describe(r: Result<GgufHeader, realizar::format::gguf::GgufError>) -> String {
    match r {
        Ok(h) => format!("{h:?}"),
        Err(e) => format!("error: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let in_memory = describe(Gguf::parse(data).map(|g| g.header().clone()));

    let chunk = 1 + data.len() % 7;
    let streamed = describe(GgufHeader::read(Chunked { data, chunk }, data.len() as u64));
    assert_eq!(
        in_memory, streamed,
        "chunked stream ({chunk} bytes per read) disagrees"
    );

    let path = std::env::temp_dir().join(format!("realizar-fuzz-diff-{}.gguf", std::process::id()));
    std::fs::write(&path, data).expect("temp file");
    let mapped = describe(Gguf::open(&path).map(|g| g.header().clone()));
    assert_eq!(in_memory, mapped, "memory-map path disagrees");
});
