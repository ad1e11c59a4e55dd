//! A HuggingFace model directory: `model.safetensors`, or shards listed by
//! `model.safetensors.index.json` (`{"metadata": {...}, "weight_map": {tensor: shard file}}`).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::Deserialize;

use super::header::{UniqueStringMap, MAX_HEADER_LEN};
use super::{Safetensors, SafetensorsError, StTensorView};

pub const INDEX_FILE: &str = "model.safetensors.index.json";
pub const SINGLE_FILE: &str = "model.safetensors";

/// Every tensor of a model directory, each validated in its shard and listed exactly once.
#[derive(Debug)]
pub struct SafetensorsDir {
    dir: PathBuf,
    shards: Vec<(String, Safetensors<Mmap>)>,
    /// Tensor name to index into `shards`.
    owner: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct IndexFile {
    #[serde(default)]
    #[allow(dead_code)] // informative only (total_size); kept so its type is still checked
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    weight_map: UniqueStringMap,
}

impl SafetensorsDir {
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, SafetensorsError> {
        let dir = dir.as_ref().to_path_buf();
        let index_path = dir.join(INDEX_FILE);
        if index_path.is_file() {
            return Self::open_sharded(dir, &index_path);
        }
        let single = dir.join(SINGLE_FILE);
        if single.is_file() {
            let file = Safetensors::open(&single)?;
            let owner = file
                .header()
                .tensors()
                .iter()
                .map(|t| (t.name.clone(), 0))
                .collect();
            return Ok(SafetensorsDir {
                dir,
                shards: vec![(SINGLE_FILE.to_owned(), file)],
                owner,
            });
        }
        Err(SafetensorsError::NoModel {
            dir: dir.display().to_string(),
        })
    }

    fn open_sharded(dir: PathBuf, index_path: &Path) -> Result<Self, SafetensorsError> {
        let path = index_path.display().to_string();
        let index = read_index(index_path, &path)?;
        let shard_names: BTreeSet<&str> = index.iter().map(|(_, s)| s.as_str()).collect();
        let mut shards = Vec::with_capacity(shard_names.len());
        let mut shard_of = HashMap::new();
        for name in shard_names {
            if !is_plain_file_name(name) {
                return Err(SafetensorsError::BadShardName {
                    path,
                    shard: name.to_owned(),
                });
            }
            let file = Safetensors::open(dir.join(name)).map_err(|e| SafetensorsError::Shard {
                shard: name.to_owned(),
                source: Box::new(e),
            })?;
            shard_of.insert(name.to_owned(), shards.len());
            shards.push((name.to_owned(), file));
        }
        let mut owner = HashMap::with_capacity(index.len());
        for (tensor, shard) in &index {
            let i = shard_of[shard.as_str()];
            if shards[i].1.header().tensor(tensor).is_none() {
                return Err(SafetensorsError::MissingTensor {
                    tensor: tensor.clone(),
                    shard: shard.clone(),
                });
            }
            owner.insert(tensor.clone(), i);
        }
        for (i, (shard, file)) in shards.iter().enumerate() {
            for t in file.header().tensors() {
                if owner.get(&t.name) != Some(&i) {
                    return Err(SafetensorsError::UnlistedTensor {
                        tensor: t.name.clone(),
                        shard: shard.clone(),
                    });
                }
            }
        }
        Ok(SafetensorsDir { dir, shards, owner })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Shard file names and their parsed files, in name order.
    pub fn shards(&self) -> impl Iterator<Item = (&str, &Safetensors<Mmap>)> {
        self.shards.iter().map(|(n, f)| (n.as_str(), f))
    }

    pub fn tensor(&self, name: &str) -> Option<StTensorView<'_>> {
        let &i = self.owner.get(name)?;
        self.shards[i].1.tensor(name)
    }

    /// Every tensor name, in no particular order.
    pub fn tensor_names(&self) -> impl Iterator<Item = &str> {
        self.owner.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.owner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owner.is_empty()
    }
}

fn read_index(index_path: &Path, path: &str) -> Result<Vec<(String, String)>, SafetensorsError> {
    let open_err = |source| SafetensorsError::Open {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(index_path).map_err(open_err)?.len();
    // The index is a JSON header of sorts: the same bound keeps a hostile one from being slurped.
    if len > MAX_HEADER_LEN {
        return Err(SafetensorsError::IndexTooLarge {
            path: path.to_owned(),
            len,
            limit: MAX_HEADER_LEN,
        });
    }
    let text = std::fs::read(index_path).map_err(open_err)?;
    let index: IndexFile = serde_json::from_slice(&text).map_err(|e| SafetensorsError::Index {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    Ok(index.weight_map.0)
}

/// A shard must sit next to the index: no separators, no `.` or `..`.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}
