//! Shared by the engine's tests and the workspace tests (tests/common includes this file by
//! path, so there is one copy): a seeded RNG, a fixture GGUF, the CLI run in-process, and the
//! malformed-input classes. Each malformed class is built here once; its unit test asserts its
//! specific error and the same bytes are the committed fuzz seed (`tests/corpus_sync.rs` keeps
//! the two identical). Nothing here needs the oracle: the engine's tests cannot reach it.
#![allow(dead_code)]

pub mod gguf_cases;
pub mod safetensors_cases;

/// One named test per malformed class (each calling the file's `check_class`), plus a test
/// that every class the builder makes has its named test.
#[macro_export]
macro_rules! class_tests {
    ($cases:expr; $($test:ident => $name:literal,)*) => {
        mod class {
            $(#[test] fn $test() { super::check_class($name) })*
        }

        #[test]
        fn every_malformed_class_has_its_own_test() {
            let mut built: Vec<&str> = $cases.iter().map(|c| c.name).collect();
            let mut tested = vec![$($name),*];
            built.sort_unstable();
            tested.sort_unstable();
            assert_eq!(built, tested);
        }
    };
}

use realizar::format::gguf::{GgmlType, GgufWriter, MetaArray, MetaValue};

/// SplitMix64: tiny, seeded, and the same on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// What the `realizar` CLI did when run in-process.
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `realizar` CLI in-process with `args` (no program name).
pub fn realizar(args: &[&str]) -> CliOutput {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("realizar").chain(args.iter().copied());
    let code = realizar::cli::run(argv, &mut out, &mut err);
    CliOutput {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

fn f32_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

/// A small LLaMA-shaped GGUF with every kind of metadata value and three tensor types.
pub fn fixture_gguf() -> Vec<u8> {
    let mut rng = Rng::new(0x5eed_0001);
    let mut w = GgufWriter::new();
    let tokens: Vec<String> = ["<unk>", "<s>", "</s>"]
        .into_iter()
        .map(str::to_owned)
        .chain((0..29).map(|i| format!("tok{i}")))
        .collect();
    let scores: Vec<f32> = (0..32).map(|i| -(i as f32) * 0.25).collect();
    let meta = [
        ("general.architecture", MetaValue::String("llama".into())),
        ("general.name", MetaValue::String("realizar fixture".into())),
        ("general.quantization_version", MetaValue::U32(2)),
        ("llama.block_count", MetaValue::U32(1)),
        ("llama.embedding_length", MetaValue::U64(64)),
        ("llama.rope.freq_base", MetaValue::F32(10000.0)),
        (
            "llama.attention.layer_norm_rms_epsilon",
            MetaValue::F32(1e-5),
        ),
        ("fixture.i8", MetaValue::I8(-8)),
        ("fixture.u8", MetaValue::U8(200)),
        ("fixture.i16", MetaValue::I16(-1600)),
        ("fixture.u16", MetaValue::U16(60000)),
        ("fixture.i32", MetaValue::I32(-7)),
        ("fixture.i64", MetaValue::I64(-1 << 40)),
        ("fixture.f64", MetaValue::F64(0.1)),
        ("fixture.bool", MetaValue::Bool(true)),
        (
            "fixture.nested",
            MetaValue::Array(MetaArray::Array(vec![
                MetaArray::I32(vec![1, 2]),
                MetaArray::I32(vec![3]),
            ])),
        ),
        ("tokenizer.ggml.model", MetaValue::String("llama".into())),
        (
            "tokenizer.ggml.tokens",
            MetaValue::Array(MetaArray::String(tokens)),
        ),
        (
            "tokenizer.ggml.scores",
            MetaValue::Array(MetaArray::F32(scores)),
        ),
        (
            "tokenizer.ggml.token_type",
            MetaValue::Array(MetaArray::I32(vec![2, 3, 3, 1])),
        ),
    ];
    for (k, v) in meta {
        w.add_metadata(k, v).expect("fixture metadata");
    }
    let embd = GgmlType::Q8_0.bytes_for(64 * 32).unwrap() as usize;
    w.add_tensor(
        "token_embd.weight",
        GgmlType::Q8_0,
        &[64, 32],
        rng.bytes(embd),
    )
    .unwrap();
    let norm = f32_bytes((0..64).map(|_| 1.0 + 0.1 * rng.unit()));
    w.add_tensor("blk.0.attn_norm.weight", GgmlType::F32, &[64], norm)
        .unwrap();
    let out = GgmlType::Q4_K.bytes_for(256 * 2).unwrap() as usize;
    w.add_tensor("output.weight", GgmlType::Q4_K, &[256, 2], rng.bytes(out))
        .unwrap();
    w.to_bytes()
}
