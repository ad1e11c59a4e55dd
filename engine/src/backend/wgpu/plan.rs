//! One forward pass as a list of steps (kernel dispatches and buffer copies), encoded into one
//! command buffer. Each dispatch's parameters get their own slice of one uniform buffer written
//! once, so no step sees another's parameters (a uniform rewritten between dispatches of one
//! submission would be seen by all of them with its last value). A traced plan also copies each
//! named intermediate tensor, where the pass has it, into a buffer of its own to read back.

use super::device::Gpu;
use super::shaders::WG;

/// Bytes of one dispatch's parameters: 16 u32 words.
const PARAM_BYTES: u64 = 64;

pub type Params = [u32; 16];

enum Step<'a> {
    Dispatch {
        pipeline: &'a wgpu::ComputePipeline,
        params: Params,
        /// Bindings 1.. in order (binding 0 is the parameters).
        buffers: Vec<&'a wgpu::Buffer>,
        groups: [u32; 3],
    },
    Copy {
        src: &'a wgpu::Buffer,
        src_offset: u64,
        dst: &'a wgpu::Buffer,
        dst_offset: u64,
        size: u64,
    },
    /// The first `len` values of `src` as they are at this step, copied into a staging buffer
    /// of their own (the next tap's, in order).
    Tap { src: &'a wgpu::Buffer, len: usize },
}

/// A named intermediate tensor of a traced pass: `[rows, cols]` f32 values (the names and
/// layout of [`crate::model::TracePoint`]).
pub struct Tap {
    pub layer: Option<usize>,
    pub name: &'static str,
    pub rows: usize,
    pub cols: usize,
}

pub struct Plan<'a> {
    steps: Vec<Step<'a>>,
    /// None: the pass is not traced, and `tap` records nothing.
    taps: Option<Vec<Tap>>,
}

/// Parameters from up to 16 words.
pub fn params(words: &[u32]) -> Params {
    let mut p = [0u32; 16];
    p[..words.len()].copy_from_slice(words);
    p
}

/// Workgroups for `threads` threads of a one-dimensional kernel: a second grid dimension once
/// the first would pass 65535 (the kernels index `y * 65535 * 64 + x`).
pub fn grid_1d(threads: usize) -> [u32; 3] {
    let groups = threads.div_ceil(WG as usize).max(1);
    if groups <= 65535 {
        [groups as u32, 1, 1]
    } else {
        [65535, groups.div_ceil(65535) as u32, 1]
    }
}

/// Workgroups for one per row: `[x, y]` with `y * x + wg.x` the row, and `x` (rows per grid
/// line) for the kernel's parameters.
pub fn grid_rows(rows: usize) -> (u32, u32) {
    let x = rows.clamp(1, 65535);
    (x as u32, rows.div_ceil(x).max(1) as u32)
}

impl<'a> Plan<'a> {
    /// An empty plan; a traced one keeps what `tap` names.
    pub fn new(traced: bool) -> Self {
        Plan {
            steps: Vec::new(),
            taps: traced.then(Vec::new),
        }
    }

    /// In a traced plan, the first `rows * cols` values of `src` as they are after the steps so
    /// far, under the trace name `name` (of `layer`).
    pub fn tap(
        &mut self,
        src: &'a wgpu::Buffer,
        layer: Option<usize>,
        name: &'static str,
        rows: usize,
        cols: usize,
    ) {
        if let Some(taps) = &mut self.taps {
            self.steps.push(Step::Tap {
                src,
                len: rows * cols,
            });
            taps.push(Tap {
                layer,
                name,
                rows,
                cols,
            });
        }
    }

    pub fn dispatch(
        &mut self,
        pipeline: &'a wgpu::ComputePipeline,
        params: Params,
        buffers: &[&'a wgpu::Buffer],
        groups: [u32; 3],
    ) {
        self.steps.push(Step::Dispatch {
            pipeline,
            params,
            buffers: buffers.to_vec(),
            groups,
        });
    }

    pub fn copy(
        &mut self,
        src: &'a wgpu::Buffer,
        src_offset: u64,
        dst: &'a wgpu::Buffer,
        dst_offset: u64,
        size: u64,
    ) {
        self.steps.push(Step::Copy {
            src,
            src_offset,
            dst,
            dst_offset,
            size,
        });
    }

    /// Records every step; the caller submits (and reads back the logits, then each tap from
    /// its staging buffer).
    pub fn encode(self, gpu: &Gpu) -> (wgpu::CommandEncoder, Vec<(Tap, wgpu::Buffer)>) {
        let taps = self.taps.unwrap_or_default();
        let mut staged = Vec::with_capacity(taps.len());
        let stride = u64::from(gpu.limits.min_uniform_buffer_offset_alignment).max(PARAM_BYTES);
        let dispatches = self
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Dispatch { .. }))
            .count();
        let mut bytes = vec![0u8; (dispatches.max(1) as u64 * stride) as usize];
        let mut i = 0;
        for s in &self.steps {
            if let Step::Dispatch { params, .. } = s {
                let at = (i as u64 * stride) as usize;
                bytes[at..at + PARAM_BYTES as usize].copy_from_slice(bytemuck::cast_slice(params));
                i += 1;
            }
        }
        let uniforms = wgpu::util::DeviceExt::create_buffer_init(
            &gpu.device,
            &wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: &bytes,
                usage: wgpu::BufferUsages::UNIFORM,
            },
        );
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("forward"),
            });
        let mut i = 0u64;
        let mut steps = self.steps.into_iter().peekable();
        while let Some(step) = steps.next() {
            match step {
                Step::Copy {
                    src,
                    src_offset,
                    dst,
                    dst_offset,
                    size,
                } => encoder.copy_buffer_to_buffer(src, src_offset, dst, dst_offset, size),
                Step::Tap { src, len } => {
                    let staging = gpu.staging("trace", len);
                    encoder.copy_buffer_to_buffer(src, 0, &staging, 0, (len * 4) as u64);
                    staged.push(staging);
                }
                first @ Step::Dispatch { .. } => {
                    // Consecutive dispatches share a pass; wgpu orders their buffer accesses.
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: None,
                    });
                    let mut next = Some(first);
                    while let Some(Step::Dispatch {
                        pipeline,
                        buffers,
                        groups,
                        ..
                    }) = next
                    {
                        let mut entries = vec![wgpu::BindGroupEntry {
                            binding: 0,
                            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: &uniforms,
                                offset: i * stride,
                                size: std::num::NonZeroU64::new(PARAM_BYTES),
                            }),
                        }];
                        entries.extend(buffers.iter().enumerate().map(|(k, b)| {
                            wgpu::BindGroupEntry {
                                binding: k as u32 + 1,
                                resource: b.as_entire_binding(),
                            }
                        }));
                        let group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                            label: None,
                            layout: &pipeline.get_bind_group_layout(0),
                            entries: &entries,
                        });
                        pass.set_pipeline(pipeline);
                        pass.set_bind_group(0, &group, &[]);
                        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
                        i += 1;
                        next = match steps.peek() {
                            Some(Step::Dispatch { .. }) => steps.next(),
                            _ => None,
                        };
                    }
                }
            }
        }
        // One Tap step was recorded with each tap, in order.
        (encoder, taps.into_iter().zip(staged).collect())
    }
}
