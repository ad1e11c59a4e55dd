//! Finding an adapter and opening a device on it; errors the device reports; reading a buffer
//! back. Every failure is a [`GpuError`] that says why, never a panic or a silent fallback.

use std::sync::{Arc, Mutex};

use wgpu::util::DeviceExt;

use crate::backend::{AdapterReport, GpuError};

/// Picks an adapter by this variable's value (a case-insensitive part of its name) instead of
/// by device type.
pub const ADAPTER_ENV: &str = "REALIZAR_GPU_ADAPTER";

/// An open device: the queue, what it is, and the errors wgpu reported on it.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// Whether shaders may use f64 (the RMSNorm sums, as the CPU's).
    pub f64: bool,
    /// Errors wgpu reports without a scope (validation, out of memory); wgpu's default handler
    /// panics, this one keeps them for [`Gpu::check`].
    errors: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gpu({} via {:?})", self.info.name, self.info.backend)
    }
}

/// Discrete before integrated before virtual before software: the fastest device a machine has,
/// while a CI machine with only lavapipe (a CPU device) still gets one.
fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

fn instance() -> wgpu::Instance {
    // WGPU_BACKEND and the other variables wgpu documents still narrow the search.
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn report(a: &wgpu::Adapter, chosen: bool) -> AdapterReport {
    let info = a.get_info();
    let compute = a
        .get_downlevel_capabilities()
        .flags
        .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS);
    AdapterReport {
        name: info.name,
        backend: format!("{:?}", info.backend).to_lowercase(),
        device_type: format!("{:?}", info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
        compute,
        chosen,
    }
}

/// The adapters of this machine with compute shaders, best first, and the index of the one a
/// GPU model would open.
fn candidates() -> (Vec<wgpu::Adapter>, Option<usize>, Option<String>) {
    let mut adapters = pollster::block_on(instance().enumerate_adapters(wgpu::Backends::all()));
    adapters.sort_by_key(|a| rank(a.get_info().device_type));
    let wanted = std::env::var(ADAPTER_ENV).ok().filter(|s| !s.is_empty());
    let computes = |a: &wgpu::Adapter| {
        a.get_downlevel_capabilities()
            .flags
            .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
    };
    let chosen = adapters.iter().position(|a| {
        computes(a)
            && wanted
                .as_ref()
                .is_none_or(|w| a.get_info().name.to_lowercase().contains(&w.to_lowercase()))
    });
    (adapters, chosen, wanted)
}

/// Every adapter wgpu finds here, the chosen one marked.
pub fn adapters() -> Vec<AdapterReport> {
    let (adapters, chosen, _) = candidates();
    adapters
        .iter()
        .enumerate()
        .map(|(i, a)| report(a, Some(i) == chosen))
        .collect()
}

impl Gpu {
    /// Opens the best adapter with compute shaders (or the one REALIZAR_GPU_ADAPTER names),
    /// asking for the adapter's own limits so large weight matrices fit one binding.
    pub fn open() -> Result<Self, GpuError> {
        let (adapters, chosen, wanted) = candidates();
        let Some(adapter) = chosen.map(|i| &adapters[i]) else {
            let found: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
            let why = match (wanted, found.is_empty()) {
                (Some(w), _) => format!(
                    "no adapter with compute shaders matches {ADAPTER_ENV}={w} (found: {})",
                    if found.is_empty() {
                        "none".to_string()
                    } else {
                        found.join(", ")
                    }
                ),
                (None, true) => "wgpu found no Vulkan, Metal or DX12 adapter on this machine \
                                 (without a GPU on Linux, Mesa's software driver lavapipe \
                                 serves: Debian package mesa-vulkan-drivers)"
                    .to_string(),
                (None, false) => format!(
                    "no adapter found runs compute shaders (found: {})",
                    found.join(", ")
                ),
            };
            return Err(GpuError::NoAdapter(why));
        };
        let info = adapter.get_info();
        let limits = adapter.limits();
        let f64 = adapter.features().contains(wgpu::Features::SHADER_F64);
        let desc = wgpu::DeviceDescriptor {
            label: Some("realizar"),
            required_features: if f64 {
                wgpu::Features::SHADER_F64
            } else {
                wgpu::Features::empty()
            },
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) =
            pollster::block_on(adapter.request_device(&desc)).map_err(|e| GpuError::Device {
                adapter: info.name.clone(),
                why: e.to_string(),
            })?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(e.to_string());
        }));
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
            f64,
            errors,
        })
    }

    /// The first error wgpu reported since the last check, as a `GpuError`.
    pub fn check(&self, during: &str) -> Result<(), GpuError> {
        let first = {
            let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
            let first = errors.first().cloned();
            errors.clear();
            first
        };
        match first {
            None => Ok(()),
            Some(e) => Err(GpuError::Runtime(format!("{during}: {e}"))),
        }
    }

    /// A storage buffer holding `bytes` (padded to a whole word), refused by name when it is
    /// larger than one binding of this adapter may be.
    pub fn upload(&self, name: &str, bytes: &[u8]) -> Result<wgpu::Buffer, GpuError> {
        self.fits(name, bytes.len() as u64)?;
        let padded;
        let bytes = if bytes.len().is_multiple_of(4) && !bytes.is_empty() {
            bytes
        } else {
            let mut v = bytes.to_vec();
            v.resize(bytes.len().div_ceil(4).max(1) * 4, 0);
            padded = v;
            &padded
        };
        Ok(self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(name),
                contents: bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            }))
    }

    pub fn upload_f32(&self, name: &str, v: &[f32]) -> Result<wgpu::Buffer, GpuError> {
        self.upload(name, bytemuck::cast_slice(v))
    }

    /// A zeroed f32 storage buffer of `len` values (at least one).
    pub fn scratch(&self, name: &str, len: usize) -> Result<wgpu::Buffer, GpuError> {
        let size = (len.max(1) * 4) as u64;
        self.fits(name, size)?;
        Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(name),
            size,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }))
    }

    fn fits(&self, name: &str, size: u64) -> Result<(), GpuError> {
        let max = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size);
        if size > max {
            return Err(GpuError::TooLarge {
                name: name.to_string(),
                bytes: size,
                max,
            });
        }
        Ok(())
    }

    /// A buffer the host can read once the queue has run: `len` f32 values copied into it.
    pub fn staging(&self, label: &str, len: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (len.max(1) * 4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Submits `encoder` after copying `len` f32 values of `buf` into a staging buffer, waits
    /// for the queue, and reads them back.
    pub fn read_f32(
        &self,
        mut encoder: wgpu::CommandEncoder,
        buf: &wgpu::Buffer,
        len: usize,
    ) -> Result<Vec<f32>, GpuError> {
        let staging = self.staging("readback", len);
        encoder.copy_buffer_to_buffer(buf, 0, &staging, 0, (len * 4) as u64);
        self.queue.submit([encoder.finish()]);
        self.read_staging(&staging, len, "logits")
    }

    /// The first `len` f32 values of a staging buffer, once the work writing it is done (this
    /// waits for the queue).
    pub fn read_staging(
        &self,
        staging: &wgpu::Buffer,
        len: usize,
        what: &str,
    ) -> Result<Vec<f32>, GpuError> {
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Runtime(format!("waiting for the queue: {e}")))?;
        self.check("forward pass")?;
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(GpuError::Runtime(format!("reading {what} back: {e}"))),
            Err(_) => {
                return Err(GpuError::Runtime(format!(
                    "reading {what} back: the map callback never ran"
                )))
            }
        }
        let out = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| GpuError::Runtime(format!("reading {what} back: {e}")))?;
            view.chunks_exact(4)
                .take(len)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect::<Vec<f32>>()
        };
        staging.unmap();
        Ok(out)
    }
}
