//! `realizar inspect`: one report built from the validated file, rendered as a table or JSON.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};

use crate::format::gguf::{Gguf, MetaArray, MetaValue};
use crate::format::safetensors::{Safetensors, SafetensorsDir, SafetensorsHeader};
use crate::format::FileKind;

/// Array elements shown before the rest is summarised as a count.
const ARRAY_HEAD: usize = 8;
/// String characters shown in the table before the rest is summarised.
const STRING_HEAD: usize = 60;

#[derive(Serialize)]
struct Report {
    path: String,
    format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alignment: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_start: Option<u64>,
    /// How to read `shape`: ggml order (ne0 first) or row-major (numpy order).
    shape_order: &'static str,
    metadata: Vec<MetaRow>,
    tensors: Vec<TensorRow>,
}

#[derive(Serialize)]
struct MetaRow {
    key: String,
    #[serde(rename = "type")]
    ty: String,
    /// Scalars as themselves; arrays as `{"len": N, "head": [first 8]}`.
    value: Value,
}

#[derive(Serialize)]
struct TensorRow {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    shape: Vec<u64>,
    /// Offset from the start of the data section (of its shard, for sharded models).
    offset: u64,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("{path}: {source}")]
    Gguf {
        path: String,
        source: crate::format::gguf::GgufError,
    },
    #[error("{path}: {source}")]
    Safetensors {
        path: String,
        source: crate::format::safetensors::SafetensorsError,
    },
    #[error(transparent)]
    Detect(#[from] crate::format::DetectError),
    #[error("writing output: {0}")]
    Output(#[from] io::Error),
}

pub fn run(path: &Path, json: bool, out: &mut dyn Write) -> Result<(), InspectError> {
    let report = build(path)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &report).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        out.write_all(render_table(&report).as_bytes())?;
    }
    Ok(())
}

fn build(path: &Path) -> Result<Report, InspectError> {
    let shown = path.display().to_string();
    let st_err = |source| InspectError::Safetensors {
        path: shown.clone(),
        source,
    };
    let kind = crate::format::detect(path)?;
    if kind == FileKind::HfDir {
        let dir = SafetensorsDir::open(path).map_err(st_err)?;
        let mut report = Report::new(&shown, "safetensors-dir", "row-major");
        for (shard, file) in dir.shards() {
            report.add_safetensors(file.header(), Some(shard));
        }
        return Ok(report);
    }
    if kind == FileKind::Safetensors {
        let file = Safetensors::open(path).map_err(st_err)?;
        let mut report = Report::new(&shown, "safetensors", "row-major");
        report.file_bytes = Some(file.file_len());
        report.data_start = Some(file.header().data_start());
        report.add_safetensors(file.header(), None);
        return Ok(report);
    }
    let file = Gguf::open(path).map_err(|source| InspectError::Gguf {
        path: shown.clone(),
        source,
    })?;
    let header = file.header();
    let mut report = Report::new(&shown, "gguf", "ggml (ne0 first)");
    report.file_bytes = Some(file.file_len());
    report.version = Some(header.version);
    report.alignment = Some(header.alignment);
    report.data_start = Some(header.data_start);
    report.metadata = header
        .metadata
        .iter()
        .map(|(key, value)| MetaRow {
            key: key.to_owned(),
            ty: type_name(value),
            value: value_json(value),
        })
        .collect();
    report.tensors = header
        .tensors()
        .iter()
        .map(|t| TensorRow {
            name: t.name.clone(),
            ty: t.ggml_type.name().to_owned(),
            shape: t.dims.clone(),
            offset: t.offset,
            bytes: t.size,
            shard: None,
        })
        .collect();
    Ok(report)
}

impl Report {
    fn new(path: &str, format: &'static str, shape_order: &'static str) -> Self {
        Report {
            path: path.to_owned(),
            format,
            file_bytes: None,
            version: None,
            alignment: None,
            data_start: None,
            shape_order,
            metadata: Vec::new(),
            tensors: Vec::new(),
        }
    }

    fn add_safetensors(&mut self, header: &SafetensorsHeader, shard: Option<&str>) {
        self.metadata
            .extend(header.metadata.iter().map(|(k, v)| MetaRow {
                key: k.clone(),
                ty: "string".to_owned(),
                value: Value::String(v.clone()),
            }));
        self.tensors
            .extend(header.tensors().iter().map(|t| TensorRow {
                name: t.name.clone(),
                ty: t.dtype.name().to_owned(),
                shape: t.shape.clone(),
                offset: t.begin,
                bytes: t.size(),
                shard: shard.map(str::to_owned),
            }));
    }
}

fn type_name(value: &MetaValue) -> String {
    match value {
        MetaValue::Array(a) => array_type_name(a),
        v => v.value_type().name().to_owned(),
    }
}

fn array_type_name(a: &MetaArray) -> String {
    let inner = match a {
        MetaArray::Array(v) => v.first().map_or("array".to_owned(), array_type_name),
        a => a.element_type().name().to_owned(),
    };
    format!("[{inner}; {}]", a.len())
}

/// f32 printed by its own shortest representation, not widened to f64 digits.
fn float_json(v: f32) -> Value {
    format!("{v}")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

fn value_json(value: &MetaValue) -> Value {
    match value {
        MetaValue::U8(v) => json!(v),
        MetaValue::I8(v) => json!(v),
        MetaValue::U16(v) => json!(v),
        MetaValue::I16(v) => json!(v),
        MetaValue::U32(v) => json!(v),
        MetaValue::I32(v) => json!(v),
        MetaValue::F32(v) => float_json(*v),
        MetaValue::Bool(v) => json!(v),
        MetaValue::String(v) => json!(v),
        MetaValue::U64(v) => json!(v),
        MetaValue::I64(v) => json!(v),
        MetaValue::F64(v) => json!(v),
        MetaValue::Array(a) => {
            let head: Vec<Value> = (0..a.len().min(ARRAY_HEAD))
                .filter_map(|i| a.get(i))
                .map(|v| value_json(&v))
                .collect();
            json!({ "len": a.len(), "head": head })
        }
    }
}

fn short_string(s: &str) -> String {
    let n = s.chars().count();
    if n <= STRING_HEAD {
        return format!("{s:?}");
    }
    let head: String = s.chars().take(STRING_HEAD).collect();
    format!("{head:?}… ({n} chars)")
}

fn render_table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} ({})", r.path, r.format);
    if let Some(v) = r.version {
        let _ = writeln!(s, "  version      {v} (little-endian)");
    }
    if let Some(b) = r.file_bytes {
        let _ = writeln!(s, "  file         {b} bytes");
    }
    if let Some(a) = r.alignment {
        let _ = writeln!(s, "  alignment    {a}");
    }
    if let Some(d) = r.data_start {
        let _ = writeln!(s, "  data starts  at byte {d}");
    }
    let _ = writeln!(s, "\nmetadata: {}", count(r.metadata.len(), "key"));
    let rows: Vec<[String; 3]> = r
        .metadata
        .iter()
        .map(|m| {
            let text = match &m.value {
                v if m.ty.starts_with('[') => array_text(v),
                v => cell_text(v),
            };
            [m.key.clone(), m.ty.clone(), text]
        })
        .collect();
    if rows.is_empty() {
        s.push_str("  (none)\n");
    } else {
        table(&mut s, &["key", "type", "value"], &rows);
    }
    let total: u64 = r.tensors.iter().map(|t| t.bytes).sum();
    let _ = writeln!(
        s,
        "\ntensors: {} ({total} bytes; shape order: {})",
        count(r.tensors.len(), "tensor"),
        r.shape_order
    );
    let with_shard = r.tensors.iter().any(|t| t.shard.is_some());
    let rows: Vec<Vec<String>> = r
        .tensors
        .iter()
        .map(|t| {
            let mut row = vec![
                t.name.clone(),
                t.ty.clone(),
                format!("{:?}", t.shape),
                t.offset.to_string(),
                t.bytes.to_string(),
            ];
            if let Some(shard) = &t.shard {
                row.push(shard.clone());
            }
            row
        })
        .collect();
    let mut head = vec!["name", "type", "shape", "offset", "bytes"];
    if with_shard {
        head.push("shard");
    }
    table(&mut s, &head, &rows);
    s
}

/// The table text of an array, rendered from its JSON view (`{"len", "head"}`) so the two outputs
/// agree; nested arrays recurse.
fn array_text(v: &Value) -> String {
    let len = v["len"].as_u64().unwrap_or(0) as usize;
    let head = v["head"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut items: Vec<String> = head
        .iter()
        .map(|item| match item {
            Value::Object(_) => array_text(item),
            item => cell_text(item),
        })
        .collect();
    if len > head.len() {
        items.push(format!("… {} more", len - head.len()));
    }
    format!("[{}]", items.join(", "))
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => short_string(s),
        v => v.to_string(),
    }
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn table<R: AsRef<[String]>>(s: &mut String, head: &[&str], rows: &[R]) {
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row.as_ref()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |s: &mut String, cells: Vec<&str>| {
        let mut text = String::from(" ");
        for (cell, w) in cells.iter().zip(&widths) {
            let _ = write!(text, " {cell:<w$}");
        }
        let _ = writeln!(s, "{}", text.trim_end());
    };
    line(s, head.to_vec());
    for row in rows {
        line(s, row.as_ref().iter().map(String::as_str).collect());
    }
}
