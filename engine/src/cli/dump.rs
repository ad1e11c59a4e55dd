//! `realizar dump`: one tensor dequantized to f32 and written as `.npy`.

use std::io::Write;
use std::path::Path;

use crate::format::gguf::{GgmlType, Gguf};
use crate::format::safetensors::{Dtype, Safetensors, SafetensorsDir, StTensorView};
use crate::format::{npy, FileKind};
use crate::quant::{dequantize_to_vec, QuantError};

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error(transparent)]
    Gguf(#[from] crate::format::gguf::GgufError),
    #[error(transparent)]
    Safetensors(#[from] crate::format::safetensors::SafetensorsError),
    #[error(transparent)]
    Detect(#[from] crate::format::DetectError),
    #[error("{path}: no tensor named '{name}' among its {count} tensors{hint}")]
    NoTensor {
        path: String,
        name: String,
        count: usize,
        hint: String,
    },
    #[error("tensor '{name}': {source}")]
    Quant { name: String, source: QuantError },
    #[error(
        "tensor '{name}' has dtype {dtype}, which dump does not convert (F32, F16 and BF16 do)"
    )]
    Dtype { name: String, dtype: Dtype },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

pub fn run(
    model: &Path,
    name: &str,
    out_path: &Path,
    out: &mut dyn Write,
) -> Result<(), DumpError> {
    let (ty, shape, values) = match crate::format::detect(model)? {
        FileKind::Gguf => from_gguf(model, name)?,
        kind @ (FileKind::Safetensors | FileKind::HfDir) => from_safetensors(model, kind, name)?,
    };
    let file = std::fs::File::create(out_path);
    file.and_then(|f| npy::write_f32(f, &shape, &values))
        .map_err(|source| DumpError::Write {
            path: out_path.display().to_string(),
            source,
        })?;
    let _ = writeln!(
        out,
        "{}: {name} ({ty}) -> float32 numpy shape {shape:?}, {} values",
        out_path.display(),
        values.len()
    );
    Ok(())
}

fn no_tensor<'a>(path: &Path, name: &str, names: impl Iterator<Item = &'a str>) -> DumpError {
    let names: Vec<&str> = names.collect();
    let close: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.contains(name) || name.contains(*n))
        .take(5)
        .collect();
    DumpError::NoTensor {
        path: path.display().to_string(),
        name: name.to_owned(),
        count: names.len(),
        hint: if close.is_empty() {
            String::new()
        } else {
            format!(" (similar: {})", close.join(", "))
        },
    }
}

/// GGUF dims are ggml order (ne0 first); numpy's shape is their reverse.
fn from_gguf(model: &Path, name: &str) -> Result<(String, Vec<usize>, Vec<f32>), DumpError> {
    let file = Gguf::open(model)?;
    let Some(t) = file.tensor(name) else {
        return Err(no_tensor(
            model,
            name,
            file.header().tensors().iter().map(|t| t.name.as_str()),
        ));
    };
    let values =
        dequantize_to_vec(t.info.ggml_type, t.data).map_err(|source| DumpError::Quant {
            name: name.to_owned(),
            source,
        })?;
    let shape = t.info.dims.iter().rev().map(|&d| d as usize).collect();
    Ok((t.info.ggml_type.name().to_owned(), shape, values))
}

fn from_safetensors(
    model: &Path,
    kind: FileKind,
    name: &str,
) -> Result<(String, Vec<usize>, Vec<f32>), DumpError> {
    if kind == FileKind::HfDir {
        let dir = SafetensorsDir::open(model)?;
        let t = dir
            .tensor(name)
            .ok_or_else(|| no_tensor(model, name, dir.tensor_names()))?;
        return st_values(name, t);
    }
    let file = Safetensors::open(model)?;
    let names = file.header().tensors().iter().map(|t| t.name.as_str());
    let t = file
        .tensor(name)
        .ok_or_else(|| no_tensor(model, name, names))?;
    st_values(name, t)
}

fn st_values(name: &str, t: StTensorView) -> Result<(String, Vec<usize>, Vec<f32>), DumpError> {
    let values = float_values(name, t.info.dtype, t.data)?;
    let shape = t.info.shape.iter().map(|&d| d as usize).collect();
    Ok((t.info.dtype.name().to_owned(), shape, values))
}

fn float_values(name: &str, dtype: Dtype, data: &[u8]) -> Result<Vec<f32>, DumpError> {
    let ty = match dtype {
        Dtype::F32 => GgmlType::F32,
        Dtype::F16 => GgmlType::F16,
        Dtype::BF16 => GgmlType::BF16,
        dtype => {
            return Err(DumpError::Dtype {
                name: name.to_owned(),
                dtype,
            })
        }
    };
    dequantize_to_vec(ty, data).map_err(|source| DumpError::Quant {
        name: name.to_owned(),
        source,
    })
}
