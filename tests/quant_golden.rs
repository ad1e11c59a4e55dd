//! Dequantization and quantization are bit-exact with gguf-py on the committed seeded random
//! blocks (golden/quant, written by golden/scripts/quant_golden.py). Goldens are read with the
//! `safetensors` crate, not the engine's reader.

mod common;

use realizar::format::gguf::GgmlType;
use realizar::quant::{dequantize_to_vec, layout, quantize};
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

const DEQUANT_TYPES: [&str; 13] = [
    "F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
    "Q6_K",
];

fn golden(name: &str) -> Vec<u8> {
    let path = common::goldens().quant_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tensor<'a>(st: &'a SafeTensors, name: &str) -> &'a [u8] {
    st.tensor(name).unwrap().data()
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// Bit-equal, except that any NaN matches any NaN: numpy and the `half` crate may set a NaN's
/// quiet bit differently when widening an f16 NaN, and NaN payloads carry no meaning here.
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Where `ours` first differs from the golden: (block, element, ours, golden).
fn first_mismatch(ours: &[f32], gold: &[f32], block: usize) -> Option<(usize, usize, f32, f32)> {
    let i = ours.iter().zip(gold).position(|(&a, &b)| !same(a, b))?;
    Some((i / block, i % block, ours[i], gold[i]))
}

/// Panics at the first block where `ours` and `gold` (blocks of `ts` bytes) differ, naming how
/// many blocks differ, the first one's byte and both values.
fn assert_same_blocks(what: &str, reference: &str, ours: &[u8], gold: &[u8], ts: usize) {
    assert_eq!(ours.len(), gold.len(), "{what}: lengths");
    let bad = ours
        .chunks_exact(ts)
        .zip(gold.chunks_exact(ts))
        .filter(|(a, b)| a != b)
        .count();
    if let Some(i) = ours.iter().zip(gold).position(|(a, b)| a != b) {
        panic!(
            "{what}: {bad} of {} blocks differ; first: block {} byte {}: ours {:#04x}, {reference} {:#04x}",
            gold.len() / ts,
            i / ts,
            i % ts,
            ours[i],
            gold[i]
        );
    }
}

#[test]
fn manifest_lists_every_golden_with_its_sha256() {
    let manifest: serde_json::Value = serde_json::from_slice(&golden("manifest.json")).unwrap();
    assert_eq!(manifest["versions"]["gguf"], "0.19.0");
    let files = manifest["files"].as_object().unwrap();
    let kind = |k: &str| files.values().filter(|f| f["kind"] == k).count();
    assert_eq!(kind("dequantize"), DEQUANT_TYPES.len());
    assert_eq!(kind("quantize"), 2);
    assert_eq!(kind("dump"), 7);
    // Every committed golden file is in the manifest.
    let on_disk = std::fs::read_dir(common::goldens().quant_dir())
        .unwrap()
        .count();
    assert_eq!(
        on_disk,
        files.len() + 1,
        "files in golden/quant vs manifest entries (+ manifest)"
    );
    for (name, entry) in files {
        let digest = format!("{:x}", Sha256::digest(golden(name)));
        assert_eq!(entry["sha256"].as_str(), Some(digest.as_str()), "{name}");
    }
}

#[test]
fn dequantization_is_bit_exact_with_gguf_py() {
    for name in DEQUANT_TYPES {
        let ty = GgmlType::from_name(name).unwrap();
        let bytes = golden(&format!("dequant_{name}.safetensors"));
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let blocks = tensor(&st, "blocks");
        let gold = f32s(tensor(&st, "dequant"));
        let n_blocks = blocks.len() / ty.type_size() as usize;
        assert!(n_blocks >= 1000, "{name}: only {n_blocks} blocks");
        let ours = dequantize_to_vec(ty, blocks).unwrap();
        assert_eq!(ours.len(), gold.len(), "{name}");
        if let Some((b, e, o, g)) = first_mismatch(&ours, &gold, ty.block_size() as usize) {
            panic!(
                "{name}: block {b} element {e}: ours {o:e} ({:#010x}), gguf-py {g:e} ({:#010x})",
                o.to_bits(),
                g.to_bits()
            );
        }
        // Random blocks, not zeros: the realistic half must be overwhelmingly finite and non-zero.
        let realistic = &gold[gold.len() / 2..];
        let live = realistic
            .iter()
            .filter(|v| v.is_finite() && **v != 0.0)
            .count();
        assert!(
            live * 10 > realistic.len() * 8,
            "{name}: only {live} live values"
        );
    }
}

#[test]
fn q4_0_and_q8_0_quantization_is_bit_exact_with_gguf_py() {
    for name in ["Q4_0", "Q8_0"] {
        let ty = GgmlType::from_name(name).unwrap();
        let bytes = golden(&format!("quantize_{name}.safetensors"));
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let input = f32s(tensor(&st, "input"));
        let gold = tensor(&st, "quantized");
        let mut ours = vec![0u8; gold.len()];
        quantize(ty, &input, &mut ours).unwrap();
        assert_same_blocks(name, "gguf-py", &ours, gold, ty.type_size() as usize);
    }
}

/// Q3_K as upstream once shipped it, ignoring the high-bit mask: wrong on 252 of 256 values of a
/// random block, right on an all-zero one.
fn q3_k_without_hmask(b: &[u8]) -> Vec<f32> {
    use layout::q3_k::*;
    let d = layout::f16_at(b, D);
    (0..256)
        .map(|i| {
            let (h, s, l) = (i / 128, (i / 32) % 4, i % 32);
            let low = ((b[QS.start + 32 * h + l] >> (2 * s)) & 3) as i8;
            d * layout::scale_q3_k(i / 16, &b[SCALES]) as f32 * low as f32
        })
        .collect()
}

/// Q4_K with sub-blocks 4..8 decoding their scale like sub-blocks 0..4: half the scales wrong.
fn q4_k_low_scales_only(b: &[u8]) -> Vec<f32> {
    use layout::q4_k::*;
    let (d, dmin) = (layout::f16_at(b, D), layout::f16_at(b, DMIN));
    (0..256)
        .map(|i| {
            let g = i / 32;
            let (sc, m) = layout::scale_min_k4(g % 4, &b[SCALES]);
            let q = (b[QS.start + 32 * (g / 2) + i % 32] >> (4 * (g % 2))) & 0xF;
            d * sc as f32 * q as f32 - dmin * m as f32
        })
        .collect()
}

#[test]
fn goldens_catch_decoders_that_all_zero_blocks_cannot() {
    for (name, buggy) in [
        ("Q3_K", q3_k_without_hmask as fn(&[u8]) -> Vec<f32>),
        ("Q4_K", q4_k_low_scales_only),
    ] {
        let ty = GgmlType::from_name(name).unwrap();
        let ts = ty.type_size() as usize;
        // On an all-zero block the buggy decoder agrees with the right one.
        let zero = vec![0u8; ts];
        assert_eq!(
            buggy(&zero),
            dequantize_to_vec(ty, &zero).unwrap(),
            "{name}"
        );
        // On the golden's random blocks it is caught.
        let bytes = golden(&format!("dequant_{name}.safetensors"));
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let gold = f32s(tensor(&st, "dequant"));
        let blocks = tensor(&st, "blocks");
        let n = blocks.len() / ts;
        let caught = (n / 2..n)
            .filter(|&b| {
                let ours = buggy(&blocks[b * ts..(b + 1) * ts]);
                first_mismatch(&ours, &gold[b * 256..(b + 1) * 256], 256).is_some()
            })
            .count();
        assert!(
            caught * 10 >= (n / 2) * 9,
            "{name}: buggy decoder caught in only {caught} blocks"
        );
    }
}

/// The quantizers reproduce llama-quantize byte for byte: every quantized tensor of every
/// tiny-gqa file (made by llama-quantize from the F32 file, no imatrix, so through ggml's
/// `quantize_row_*_ref`) equals realizar's quantization of the same F32 tensor. This is the
/// outside truth for the K-quant quantizers, which gguf-py does not implement.
#[test]
fn quantizers_reproduce_llama_quantize_on_every_model_tensor() {
    use realizar::format::gguf::Gguf;
    let dir = common::goldens().model_dir("tiny-gqa");
    let source = Gguf::open(dir.join("tiny-gqa-F32.gguf")).unwrap();
    let mut blocks_per_type = std::collections::BTreeMap::<String, usize>::new();
    let mut ours_by_tensor = std::collections::HashMap::new();
    for file in [
        "Q4_0",
        "Q4_0-pure",
        "Q8_0",
        "Q4_K-pure",
        "Q5_K-pure",
        "Q6_K",
        "Q4_K_M",
        "Q5_K_M",
    ] {
        let quantized = Gguf::open(dir.join(format!("tiny-gqa-{file}.gguf"))).unwrap();
        for t in quantized.tensors() {
            let ty = t.info.ggml_type;
            if ty == GgmlType::F32 {
                continue;
            }
            // Files share many (tensor, type) pairs: quantize each once, compare every file.
            let ours = ours_by_tensor
                .entry((t.info.name.clone(), ty))
                .or_insert_with(|| {
                    let src = source.tensor(&t.info.name).unwrap();
                    assert_eq!(src.info.ggml_type, GgmlType::F32, "{}", t.info.name);
                    let mut q = vec![0u8; t.data.len()];
                    quantize(ty, &f32s(src.data), &mut q).unwrap();
                    q
                });
            let ts = ty.type_size() as usize;
            let what = format!("{file} {} ({ty})", t.info.name);
            assert_same_blocks(&what, "llama-quantize", ours, t.data, ts);
            *blocks_per_type.entry(ty.to_string()).or_default() += t.data.len() / ts;
        }
    }
    let covered: Vec<&str> = blocks_per_type.keys().map(String::as_str).collect();
    assert_eq!(covered, ["Q4_0", "Q4_K", "Q5_K", "Q6_K", "Q8_0"]);
    assert!(
        blocks_per_type.values().all(|&n| n >= 1000),
        "{blocks_per_type:?}"
    );
}

/// F32 to BF16 rounds to nearest, ties to even, and quiets NaNs, as ggml_compute_fp32_to_bf16
/// does; the `half` crate's independent conversion is the reference, over seeded random bit
/// patterns (every exponent, NaNs and infinities included) and hand-picked ties.
#[test]
fn bf16_quantization_rounds_to_nearest_even_like_ggml() {
    let bf16 = |x: f32| {
        let mut out = [0u8; 2];
        quantize(GgmlType::BF16, &[x], &mut out).unwrap();
        u16::from_le_bytes(out)
    };
    // 1 + 2^-8 is halfway between 1 and the next bf16 (even: down); 1 + 3 * 2^-8 is halfway
    // between two neighbours, the even one above.
    assert_eq!(bf16(1.0 + 1.0 / 256.0), 0x3f80);
    assert_eq!(bf16(1.0 + 3.0 / 256.0), 0x3f82);
    assert_eq!(bf16(f32::from_bits(0x3f80_8001)), 0x3f81);
    // A signalling NaN comes out quiet; infinities stay infinite.
    assert_eq!(bf16(f32::from_bits(0x7f80_0001)), 0x7fc0);
    assert_eq!(bf16(f32::from_bits(0xff81_0000)), 0xffc1);
    assert_eq!(bf16(f32::INFINITY), 0x7f80);
    assert_eq!(
        bf16(f32::MAX),
        0x7f80,
        "the largest f32 rounds up to infinity"
    );
    let mut rng = common::Rng::new(16);
    for _ in 0..100_000 {
        let x = f32::from_bits(rng.next_u64() as u32);
        let (ours, reference) = (bf16(x), half::bf16::from_f32(x).to_bits());
        assert_eq!(ours, reference, "{x:e} ({:#010x})", x.to_bits());
    }
}

/// The K-quant quantizers, Q8_K included, are byte-exact with ggml's quantize_row_*_ref on the
/// seeded blocks of golden/ggml/quantize (written by golden/scripts/ggml_quantize_ref.py), whose
/// kinds reach the branches that model weights rarely do: all-positive and constant
/// sub-blocks, zeros, values below ggml's epsilon, rounding ties and lone spikes.
#[test]
fn k_quant_quantizers_are_byte_exact_with_ggml_on_every_kind_of_block() {
    let dir = common::goldens().quantize_dir();
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let manifest: serde_json::Value = serde_json::from_slice(&read("manifest.json")).unwrap();
    let kinds = manifest["files"]["input.safetensors"]["blocks_by_kind"]
        .as_object()
        .unwrap();
    let input_bytes = read("input.safetensors");
    let input = f32s(tensor(
        &SafeTensors::deserialize(&input_bytes).unwrap(),
        "input",
    ));
    let n_blocks = input.len() / 256;
    assert_eq!(
        kinds.values().filter_map(|v| v.as_u64()).sum::<u64>(),
        n_blocks as u64
    );
    assert!(kinds.len() >= 10, "{kinds:?}");
    for name in ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K"] {
        let ty = GgmlType::from_name(name).unwrap();
        let bytes = read(&format!("quantize_{name}.safetensors"));
        let gold = tensor(&SafeTensors::deserialize(&bytes).unwrap(), "quantized").to_vec();
        let ts = ty.type_size() as usize;
        assert_eq!(gold.len(), n_blocks * ts, "{name}");
        let mut ours = vec![0u8; gold.len()];
        quantize(ty, &input, &mut ours).unwrap();
        assert_same_blocks(name, "ggml", &ours, &gold, ts);
    }
}
