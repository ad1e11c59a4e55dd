//! What a path holds, told by its content rather than its name: every command and loader asks
//! here, so a file is read by the reader its bytes call for, and anything else is refused by
//! name instead of being handed to whichever parser a suffix suggests.

use std::io::Read;
use std::path::Path;

use super::gguf::GGUF_MAGIC;

/// The kinds of model input realizar reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A GGUF file (starts with `GGUF`).
    Gguf,
    /// One safetensors file (an 8-byte little-endian header length, then a JSON object).
    Safetensors,
    /// A directory: a HuggingFace checkpoint (config.json, safetensors shards, tokenizer files).
    HfDir,
}

impl FileKind {
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Gguf => "gguf",
            FileKind::Safetensors => "safetensors",
            FileKind::HfDir => "hf-dir",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("cannot open {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}: neither a GGUF file, a safetensors file nor a directory (it starts with {start})"
    )]
    Unknown { path: String, start: String },
}

/// Reads at most the first 9 bytes of a file (or nothing of a directory) to say what it is.
pub fn detect(path: &Path) -> Result<FileKind, DetectError> {
    let io = |source| DetectError::Io {
        path: path.display().to_string(),
        source,
    };
    if std::fs::metadata(path).map_err(io)?.is_dir() {
        return Ok(FileKind::HfDir);
    }
    let mut start = Vec::with_capacity(9);
    std::fs::File::open(path)
        .map_err(io)?
        .take(9)
        .read_to_end(&mut start)
        .map_err(io)?;
    if start.starts_with(&GGUF_MAGIC) {
        return Ok(FileKind::Gguf);
    }
    // safetensors: u64 header length (at least "{}"), then the header's opening brace.
    if let Some((len, brace)) = start.split_first_chunk::<8>() {
        if u64::from_le_bytes(*len) >= 2 && brace.first() == Some(&b'{') {
            return Ok(FileKind::Safetensors);
        }
    }
    Err(DetectError::Unknown {
        path: path.display().to_string(),
        start: format!("{:02x?}", &start[..start.len().min(8)]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), bytes).unwrap();
        f
    }

    #[test]
    fn content_decides_not_the_name() {
        assert_eq!(
            detect(file(b"GGUF\x03\0\0\0").path()).unwrap(),
            FileKind::Gguf
        );
        let mut st = 2u64.to_le_bytes().to_vec();
        st.extend_from_slice(b"{}");
        assert_eq!(detect(file(&st).path()).unwrap(), FileKind::Safetensors);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(detect(dir.path()).unwrap(), FileKind::HfDir);
        // Too short, an empty safetensors header, text: refused, naming the first bytes.
        for bad in [&b"GGU"[..], &0u64.to_le_bytes(), b"{\"model\": 1}"] {
            let e = detect(file(bad).path()).unwrap_err();
            assert!(matches!(e, DetectError::Unknown { .. }), "{e}");
        }
        let missing = dir.path().join("nothing-here.gguf");
        assert!(matches!(detect(&missing), Err(DetectError::Io { .. })));
    }
}
