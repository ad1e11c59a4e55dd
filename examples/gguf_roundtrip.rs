//! Write a small GGUF file with the engine's writer, map it back, and walk its tensors.
//!
//! ```sh
//! cargo run --example gguf_roundtrip -- /tmp/tiny.gguf
//! cargo run --bin realizar -- inspect /tmp/tiny.gguf
//! ```

use realizar::format::gguf::{GgmlType, Gguf, GgufWriter, MetaArray, MetaValue};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| std::env::temp_dir().join("tiny.gguf").display().to_string());

    let mut w = GgufWriter::new();
    w.add_metadata("general.architecture", MetaValue::String("llama".into()))?
        .add_metadata("llama.embedding_length", MetaValue::U32(4))?
        .add_metadata(
            "tokenizer.ggml.tokens",
            MetaValue::Array(MetaArray::String(vec!["<s>".into(), "a".into()])),
        )?;
    // Row-major [rows = 2 output features, cols = 4 inputs]: ggml dims are [cols, rows].
    let weight: Vec<u8> = (0..8)
        .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
        .collect();
    w.add_tensor("output.weight", GgmlType::F32, &[4, 2], weight)?;
    w.write_file(&path)?;

    let file = Gguf::open(&path)?;
    println!(
        "{path}: GGUF v{}, {} keys",
        file.header().version,
        file.header().metadata.len()
    );
    for t in file.tensors() {
        let first = f32::from_le_bytes(t.data[4..8].try_into()?);
        println!(
            "  {} {} dims {:?}: {} bytes at data offset {}, W[0,1] = {first}",
            t.info.name, t.info.ggml_type, t.info.dims, t.info.size, t.info.offset
        );
    }
    Ok(())
}
