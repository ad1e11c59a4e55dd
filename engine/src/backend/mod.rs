//! Where a forward pass runs: the CPU (engine/src/model/forward.rs) or, with the `wgpu` feature,
//! a GPU through wgpu (engine/src/backend/wgpu). [`Forward`] is what both offer; [`Runtime`] is a
//! model on the backend a user chose. A backend that was asked for and cannot run the model, or
//! cannot start, is an error that says why: there is no fallback from one backend to another.
//!
//! The GPU adapter: the best wgpu finds (discrete, then integrated, virtual, software) that runs
//! compute shaders, or the one whose name contains `REALIZAR_GPU_ADAPTER`. Mesa's lavapipe
//! (software Vulkan) counts: CI runs the GPU kernels on it.

#[cfg(feature = "wgpu")]
pub mod wgpu;

use std::path::Path;

use crate::model::{Config, KvCache, Logits, Model, ModelError, Observer, Trace};
use crate::quant::Kernel;

/// The backends a user can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Cpu,
    Gpu,
}

impl BackendKind {
    pub const ALL: [BackendKind; 2] = [BackendKind::Cpu, BackendKind::Gpu];

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Gpu => "gpu",
        }
    }
}

/// Why the GPU backend cannot run (here, or this model).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpuError {
    #[error(
        "this build of realizar has no GPU backend (built without the `wgpu` cargo feature of \
         the realizar crate)"
    )]
    NotBuilt,
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    #[error("GPU adapter {adapter}: cannot open a device: {why}")]
    Device { adapter: String, why: String },
    #[error(
        "the GPU backend does not implement {0}; refusing rather than running it anywhere else"
    )]
    Unsupported(String),
    #[error(
        "{name} needs {bytes} bytes in one buffer binding; this GPU adapter allows at most {max}"
    )]
    TooLarge { name: String, bytes: u64, max: u64 },
    #[error("GPU: {0}")]
    Runtime(String),
}

/// One adapter wgpu found, as `realizar kernels --backends` lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AdapterReport {
    pub name: String,
    /// vulkan, metal, dx12.
    pub backend: String,
    /// DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu (a software rasterizer such as lavapipe).
    pub device_type: String,
    pub driver: String,
    /// Whether it runs compute shaders (the GPU backend needs them).
    pub compute: bool,
    /// Whether `--backend gpu` would open this one.
    pub chosen: bool,
}

/// The GPU adapters of this machine; `NotBuilt` in a build without the `wgpu` feature.
pub fn adapters() -> Result<Vec<AdapterReport>, GpuError> {
    #[cfg(feature = "wgpu")]
    {
        Ok(wgpu::adapters())
    }
    #[cfg(not(feature = "wgpu"))]
    {
        Err(GpuError::NotBuilt)
    }
}

/// The adapter a GPU model would open, or why there is none.
pub fn gpu_adapter() -> Result<AdapterReport, GpuError> {
    let all = adapters()?;
    all.iter().find(|a| a.chosen).cloned().ok_or_else(|| {
        GpuError::NoAdapter(if all.is_empty() {
            "wgpu found no Vulkan, Metal or DX12 adapter on this machine (without a GPU on \
             Linux, Mesa's software driver lavapipe serves: Debian package mesa-vulkan-drivers)"
                .into()
        } else {
            "none of the adapters found runs compute shaders or matches REALIZAR_GPU_ADAPTER".into()
        })
    })
}

/// A KV cache: how full it is, and starting again at position 0.
pub trait CacheState {
    fn len(&self) -> usize;
    fn capacity(&self) -> usize;
    /// Forgets every position; the memory stays allocated.
    fn clear(&mut self);
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl CacheState for KvCache {
    fn len(&self) -> usize {
        KvCache::len(self)
    }
    fn capacity(&self) -> usize {
        KvCache::capacity(self)
    }
    fn clear(&mut self) {
        KvCache::clear(self)
    }
}

/// A model that runs forward passes over a KV cache of its own kind.
pub trait Forward {
    type Cache: CacheState;
    fn config(&self) -> &Config;
    /// A cache for `ctx` positions (the model's trained context for 0).
    fn new_cache(&self, ctx: usize) -> Result<Self::Cache, ModelError>;
    /// `tokens` at the cache's next positions; logits `[n, vocab]` for `Logits::All`, `[vocab]`
    /// for `Logits::Last`. `observer` sees every named intermediate tensor of the pass (the
    /// names of [`crate::model::TracePoint`], alike on every backend).
    fn forward_traced(
        &self,
        cache: &mut Self::Cache,
        tokens: &[u32],
        logits: Logits,
        observer: Option<&mut dyn Observer>,
    ) -> Result<Vec<f32>, ModelError>;

    /// The pass untraced.
    fn forward(
        &self,
        cache: &mut Self::Cache,
        tokens: &[u32],
        logits: Logits,
    ) -> Result<Vec<f32>, ModelError> {
        self.forward_traced(cache, tokens, logits, None)
    }

    /// `tokens` in one batch through a fresh cache, every named intermediate kept: what the
    /// trace comparisons (`oracle diff`, TRACE-PARITY, the protocol's trace request) read.
    fn trace_batch(&self, tokens: &[u32]) -> Result<Trace, ModelError> {
        let mut cache = self.new_cache(tokens.len().max(1))?;
        let mut trace = Trace::default();
        self.forward_traced(&mut cache, tokens, Logits::All, Some(&mut trace))?;
        Ok(trace)
    }
}

impl Forward for Model {
    type Cache = KvCache;
    fn config(&self) -> &Config {
        &self.config
    }
    fn new_cache(&self, ctx: usize) -> Result<KvCache, ModelError> {
        Ok(Model::new_cache(self, ctx))
    }
    fn forward_traced(
        &self,
        cache: &mut KvCache,
        tokens: &[u32],
        logits: Logits,
        observer: Option<&mut dyn Observer>,
    ) -> Result<Vec<f32>, ModelError> {
        Model::forward_traced(self, cache, tokens, logits, observer)
    }
}

#[cfg(feature = "wgpu")]
impl CacheState for wgpu::GpuCache {
    fn len(&self) -> usize {
        wgpu::GpuCache::len(self)
    }
    fn capacity(&self) -> usize {
        wgpu::GpuCache::capacity(self)
    }
    fn clear(&mut self) {
        wgpu::GpuCache::clear(self)
    }
}

#[cfg(feature = "wgpu")]
impl Forward for wgpu::GpuModel {
    type Cache = wgpu::GpuCache;
    fn config(&self) -> &Config {
        &self.model().config
    }
    fn new_cache(&self, ctx: usize) -> Result<wgpu::GpuCache, ModelError> {
        Ok(wgpu::GpuModel::new_cache(self, ctx)?)
    }
    fn forward_traced(
        &self,
        cache: &mut wgpu::GpuCache,
        tokens: &[u32],
        logits: Logits,
        observer: Option<&mut dyn Observer>,
    ) -> Result<Vec<f32>, ModelError> {
        wgpu::GpuModel::forward_traced(self, cache, tokens, logits, observer)
    }
}

/// A model on the backend a user chose.
// One of these exists per loaded model: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Runtime {
    Cpu(Model),
    #[cfg(feature = "wgpu")]
    Gpu(wgpu::GpuModel),
}

/// The KV cache of a [`Runtime`].
#[derive(Debug)]
pub enum RuntimeCache {
    Cpu(KvCache),
    #[cfg(feature = "wgpu")]
    Gpu(wgpu::GpuCache),
}

impl CacheState for RuntimeCache {
    fn len(&self) -> usize {
        match self {
            RuntimeCache::Cpu(c) => c.len(),
            #[cfg(feature = "wgpu")]
            RuntimeCache::Gpu(c) => c.len(),
        }
    }
    fn capacity(&self) -> usize {
        match self {
            RuntimeCache::Cpu(c) => c.capacity(),
            #[cfg(feature = "wgpu")]
            RuntimeCache::Gpu(c) => c.capacity(),
        }
    }
    fn clear(&mut self) {
        match self {
            RuntimeCache::Cpu(c) => c.clear(),
            #[cfg(feature = "wgpu")]
            RuntimeCache::Gpu(c) => c.clear(),
        }
    }
}

impl Runtime {
    /// Loads `path` (see [`Model::load`]) and puts it on `backend`. `kernel` is the CPU kernel
    /// (the GPU backend ignores it, and the model goes to it without the CPU's decode layout).
    pub fn load(path: &Path, kernel: Kernel, backend: BackendKind) -> Result<Self, ModelError> {
        let model = match backend {
            BackendKind::Cpu => Model::load(path, kernel)?,
            BackendKind::Gpu => Model::load_unpacked(path, kernel)?,
        };
        Self::on(model, backend)
    }

    /// `model` on `backend`: for the GPU, its weights uploaded to the device.
    pub fn on(model: Model, backend: BackendKind) -> Result<Self, ModelError> {
        match backend {
            BackendKind::Cpu => Ok(Runtime::Cpu(model)),
            #[cfg(feature = "wgpu")]
            BackendKind::Gpu => {
                // The GPU runs every product: the CPU's decode layouts would only hold memory.
                let mut model = model;
                model.weights.drop_packed();
                Ok(Runtime::Gpu(wgpu::GpuModel::new(model)?))
            }
            #[cfg(not(feature = "wgpu"))]
            BackendKind::Gpu => {
                drop(model);
                Err(GpuError::NotBuilt.into())
            }
        }
    }

    pub fn backend(&self) -> BackendKind {
        match self {
            Runtime::Cpu(_) => BackendKind::Cpu,
            #[cfg(feature = "wgpu")]
            Runtime::Gpu(_) => BackendKind::Gpu,
        }
    }

    /// The loaded model (config, metadata, CPU weights).
    pub fn model(&self) -> &Model {
        match self {
            Runtime::Cpu(m) => m,
            #[cfg(feature = "wgpu")]
            Runtime::Gpu(g) => g.model(),
        }
    }

    /// What runs the matrix products: the CPU kernel's name, or the GPU adapter.
    pub fn device(&self) -> String {
        match self {
            Runtime::Cpu(m) => format!("kernel: {}", m.kernel().name()),
            #[cfg(feature = "wgpu")]
            Runtime::Gpu(g) => format!("gpu: {}", g.adapter()),
        }
    }

    /// The CPU model's threads (`Model::set_threads`); the GPU backend has none to set.
    pub fn set_threads(&mut self, threads: usize) -> Result<(), ModelError> {
        match self {
            Runtime::Cpu(m) => m.set_threads(threads),
            #[cfg(feature = "wgpu")]
            Runtime::Gpu(_) => Ok(()),
        }
    }
}

impl Forward for Runtime {
    type Cache = RuntimeCache;
    fn config(&self) -> &Config {
        &self.model().config
    }
    fn new_cache(&self, ctx: usize) -> Result<RuntimeCache, ModelError> {
        Ok(match self {
            Runtime::Cpu(m) => RuntimeCache::Cpu(Model::new_cache(m, ctx)),
            #[cfg(feature = "wgpu")]
            Runtime::Gpu(g) => RuntimeCache::Gpu(g.new_cache(ctx)?),
        })
    }
    fn forward_traced(
        &self,
        cache: &mut RuntimeCache,
        tokens: &[u32],
        logits: Logits,
        observer: Option<&mut dyn Observer>,
    ) -> Result<Vec<f32>, ModelError> {
        match (self, cache) {
            (Runtime::Cpu(m), RuntimeCache::Cpu(c)) => {
                Model::forward_traced(m, c, tokens, logits, observer)
            }
            #[cfg(feature = "wgpu")]
            (Runtime::Gpu(g), RuntimeCache::Gpu(c)) => {
                g.forward_traced(c, tokens, logits, observer)
            }
            #[cfg(feature = "wgpu")]
            _ => Err(ModelError::Config(
                "a KV cache of one backend was given to a model on another".into(),
            )),
        }
    }
}
