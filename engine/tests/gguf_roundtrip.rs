//! Property: any metadata and tensors the writer accepts read back bit-identical.

use proptest::collection::vec;
use proptest::prelude::*;
use realizar::format::gguf::{GgmlType, Gguf, GgufWriter, MetaArray, MetaValue};

fn floats32() -> impl Strategy<Value = Vec<f32>> {
    // From raw bits, so NaN payloads, infinities and subnormals are all covered.
    vec(any::<u32>(), 0..6).prop_map(|v| v.into_iter().map(f32::from_bits).collect())
}

fn floats64() -> impl Strategy<Value = Vec<f64>> {
    vec(any::<u64>(), 0..6).prop_map(|v| v.into_iter().map(f64::from_bits).collect())
}

fn leaf_array() -> impl Strategy<Value = MetaArray> {
    prop_oneof![
        vec(any::<u8>(), 0..6).prop_map(MetaArray::U8),
        vec(any::<i8>(), 0..6).prop_map(MetaArray::I8),
        vec(any::<u16>(), 0..6).prop_map(MetaArray::U16),
        vec(any::<i16>(), 0..6).prop_map(MetaArray::I16),
        vec(any::<u32>(), 0..6).prop_map(MetaArray::U32),
        vec(any::<i32>(), 0..6).prop_map(MetaArray::I32),
        floats32().prop_map(MetaArray::F32),
        vec(any::<bool>(), 0..6).prop_map(MetaArray::Bool),
        vec("\\PC{0,8}", 0..4).prop_map(MetaArray::String),
        vec(any::<u64>(), 0..6).prop_map(MetaArray::U64),
        vec(any::<i64>(), 0..6).prop_map(MetaArray::I64),
        floats64().prop_map(MetaArray::F64),
    ]
}

fn array() -> impl Strategy<Value = MetaArray> {
    leaf_array().prop_recursive(4, 24, 3, |inner| {
        vec(inner, 0..3).prop_map(MetaArray::Array)
    })
}

fn value() -> impl Strategy<Value = MetaValue> {
    prop_oneof![
        any::<u8>().prop_map(MetaValue::U8),
        any::<i8>().prop_map(MetaValue::I8),
        any::<u16>().prop_map(MetaValue::U16),
        any::<i16>().prop_map(MetaValue::I16),
        any::<u32>().prop_map(MetaValue::U32),
        any::<i32>().prop_map(MetaValue::I32),
        any::<u32>().prop_map(|b| MetaValue::F32(f32::from_bits(b))),
        any::<bool>().prop_map(MetaValue::Bool),
        "\\PC{0,16}".prop_map(MetaValue::String),
        array().prop_map(MetaValue::Array),
        any::<u64>().prop_map(MetaValue::U64),
        any::<i64>().prop_map(MetaValue::I64),
        any::<u64>().prop_map(|b| MetaValue::F64(f64::from_bits(b))),
    ]
}

/// A tensor of any type with 1..=4 small dims (ne0 whole blocks) and random bytes.
fn tensor() -> impl Strategy<Value = (GgmlType, Vec<u64>, Vec<u8>)> {
    (0..GgmlType::ALL.len(), vec(1u64..4, 1..=4), any::<u64>()).prop_map(|(t, mut dims, seed)| {
        let ty = GgmlType::ALL[t];
        dims[0] *= ty.block_size();
        let n = ty.bytes_for(dims.iter().product()).unwrap() as usize;
        let mut s = seed;
        let data = (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 56) as u8
            })
            .collect();
        (ty, dims, data)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn written_files_read_back_identical(
        version in 2u32..=3,
        alignment in proptest::option::of((0u32..9).prop_map(|k| 1u32 << k)),
        keys in vec("[a-z_]{1,6}(\\.[a-z_0-9]{1,6}){0,2}", 0..8),
        values in vec(value(), 8),
        tensors in vec(tensor(), 0..5),
    ) {
        let mut w = GgufWriter::new();
        w.set_version(version).unwrap();
        if let Some(a) = alignment {
            w.add_metadata("general.alignment", MetaValue::U32(a)).unwrap();
        }
        // Suffix the index so keys are unique and never collide with general.alignment.
        let keys: Vec<String> = keys.iter().enumerate().map(|(i, k)| format!("{k}.{i}")).collect();
        for (k, v) in keys.iter().zip(&values) {
            w.add_metadata(k.clone(), v.clone()).unwrap();
        }
        for (i, (ty, dims, data)) in tensors.iter().enumerate() {
            w.add_tensor(format!("blk.{i}.weight"), *ty, dims, data.clone()).unwrap();
        }
        let bytes = w.to_bytes();
        let file = Gguf::parse(bytes.as_slice()).unwrap();
        let h = file.header();

        prop_assert_eq!(h.version, version);
        prop_assert_eq!(h.alignment, u64::from(alignment.unwrap_or(32)));
        let read_keys: Vec<&str> = h.metadata.iter().map(|(k, _)| k).collect();
        let skip = usize::from(alignment.is_some());
        prop_assert_eq!(&read_keys[skip..], keys.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert_eq!(file.tensors().count(), tensors.len());
        for (view, (ty, dims, data)) in file.tensors().zip(&tensors) {
            prop_assert_eq!(view.info.ggml_type, *ty);
            prop_assert_eq!(&view.info.dims, dims);
            prop_assert_eq!(view.data, data.as_slice());
            prop_assert_eq!(view.info.offset % h.alignment, 0);
        }

        // Values compare bit for bit (NaN payloads included) by writing back what was read.
        let mut again = GgufWriter::new();
        again.set_version(h.version).unwrap();
        for (k, v) in h.metadata.iter() {
            again.add_metadata(k, v.clone()).unwrap();
        }
        for t in file.tensors() {
            again.add_tensor(t.info.name.clone(), t.info.ggml_type, &t.info.dims, t.data.to_vec()).unwrap();
        }
        prop_assert_eq!(again.to_bytes(), bytes);
    }
}

#[test]
fn writer_refuses_what_the_reader_would_reject() {
    let mut w = GgufWriter::new();
    assert!(w.add_metadata("", MetaValue::U8(0)).is_err());
    assert!(w
        .add_metadata("general.alignment", MetaValue::U32(48))
        .is_err());
    assert!(w
        .add_metadata("general.alignment", MetaValue::U64(32))
        .is_err());
    w.add_metadata("k", MetaValue::U8(0)).unwrap();
    assert!(w.add_metadata("k", MetaValue::U8(1)).is_err());
    assert!(w.add_tensor("", GgmlType::F32, &[1], vec![0; 4]).is_err());
    assert!(w
        .add_tensor("x".repeat(64), GgmlType::F32, &[1], vec![0; 4])
        .is_err());
    assert!(w
        .add_tensor("q", GgmlType::Q4_0, &[16], vec![0; 9])
        .is_err());
    assert!(w
        .add_tensor("f", GgmlType::F32, &[1, 1, 1, 1, 1], vec![0; 4])
        .is_err());
    assert!(w.add_tensor("f", GgmlType::F32, &[2], vec![0; 4]).is_err());
    w.add_tensor("f", GgmlType::F32, &[1], vec![0; 4]).unwrap();
    assert!(w.add_tensor("f", GgmlType::F32, &[1], vec![0; 4]).is_err());
    assert!(w.set_version(1).is_err());
}
