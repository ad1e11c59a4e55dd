//! The GPU backend on wgpu (Vulkan, Metal, DX12): the forward pass of engine/src/model/forward.rs
//! for every architecture the engine loads (Llama 2/3, Mistral, Qwen2, Qwen3, Phi-3 with
//! LongRoPE, Gemma 2 and 3 with their soft-caps, post-norms, GeGLU and sliding windows) as WGSL
//! compute kernels. Weights are uploaded once, at load, in their GGUF block layout; the KV cache lives
//! on the device; a forward call uploads only its token ids and RoPE angles and reads back only
//! the logits (and, for a traced call, each named intermediate tensor, copied where the pass has
//! it). What these kernels do not implement is refused at load by name.

mod device;
mod plan;
mod shaders;

use std::collections::BTreeMap;

use crate::backend::{AdapterReport, GpuError};
use crate::faults;
use crate::format::gguf::GgmlType;
use crate::model::{Activation, Linear, Logits, Model, ModelError, Observer, TracePoint};
use crate::ops::{self, RopeStyle, RopeTable};

use device::Gpu;
pub use device::ADAPTER_ENV;
use plan::{grid_1d, grid_rows, params, Plan};

/// Every adapter wgpu finds on this machine, the one a GPU model would open marked.
pub fn adapters() -> Vec<AdapterReport> {
    device::adapters()
}

/// A weight matrix on the device: its raw GGUF blocks, row-major.
#[derive(Debug)]
struct GpuLinear {
    buf: wgpu::Buffer,
    ty: GgmlType,
    rows: usize,
    cols: usize,
    row_bytes: usize,
    bias: Option<wgpu::Buffer>,
}

#[derive(Debug)]
struct GpuLayer {
    attn_norm: wgpu::Buffer,
    qk_norm: Option<(wgpu::Buffer, wgpu::Buffer)>,
    q: GpuLinear,
    k: GpuLinear,
    v: GpuLinear,
    o: GpuLinear,
    ffn_norm: wgpu::Buffer,
    /// Gemma's norms of the attention block's and the FFN's output, before the residual.
    attn_post_norm: Option<wgpu::Buffer>,
    ffn_post_norm: Option<wgpu::Buffer>,
    gate: GpuLinear,
    up: GpuLinear,
    down: GpuLinear,
}

#[derive(Debug)]
struct Kernels {
    matmul: BTreeMap<GgmlType, wgpu::ComputePipeline>,
    get_rows: wgpu::ComputePipeline,
    rms_norm: wgpu::ComputePipeline,
    rope: wgpu::ComputePipeline,
    attention: wgpu::ComputePipeline,
    glu: wgpu::ComputePipeline,
    softcap: wgpu::ComputePipeline,
    add: wgpu::ComputePipeline,
    quant_act: wgpu::ComputePipeline,
}

/// A model whose forward pass runs on a GPU. It keeps the CPU model it was made from for its
/// config, metadata and tokenizer (GGUF weights stay in the file's map, not copied).
#[derive(Debug)]
pub struct GpuModel {
    model: Model,
    gpu: Gpu,
    kernels: Kernels,
    embed: GpuLinear,
    layers: Vec<GpuLayer>,
    output_norm: wgpu::Buffer,
    /// None: the LM head is the embedding (tied).
    output: Option<GpuLinear>,
    /// Bound where a matmul has no bias (a binding cannot be left out).
    no_bias: wgpu::Buffer,
}

/// Keys and values of every layer for up to `ctx` positions, on the device.
#[derive(Debug)]
pub struct GpuCache {
    k: Vec<wgpu::Buffer>,
    v: Vec<wgpu::Buffer>,
    ctx: usize,
    len: usize,
}

impl GpuCache {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.ctx
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }
}

/// What of a model these kernels do not run, if anything: the first thing found, by name. Every
/// architecture and feature the CPU forward implements runs; what is left is weight types.
fn unsupported(model: &Model) -> Option<String> {
    let w = &model.weights;
    let mut linears: Vec<&Linear> = vec![&w.embed, w.output()];
    for l in &w.layers {
        linears.extend([&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down]);
    }
    linears
        .into_iter()
        .find(|l| !shaders::supports(l.ty))
        .map(|l| {
            format!(
                "weight type {} (tensor {}; it reads F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, \
                 Q8_0, Q4_K, Q5_K and Q6_K)",
                l.ty.name(),
                l.name
            )
        })
}

impl GpuModel {
    /// Opens a device (see [`crate::backend`] for how it is chosen) and uploads `model`'s
    /// weights to it. A model these kernels do not run entirely is refused, naming what.
    pub fn new(model: Model) -> Result<Self, GpuError> {
        if let Some(what) = unsupported(&model) {
            return Err(GpuError::Unsupported(what));
        }
        let gpu = Gpu::open()?;
        let w = &model.weights;
        let linear = |l: &Linear| -> Result<GpuLinear, GpuError> {
            let m = w.matrix(l);
            Ok(GpuLinear {
                buf: gpu.upload(&l.name, m.bytes())?,
                ty: l.ty,
                rows: l.rows,
                cols: l.cols,
                row_bytes: m.bytes().len() / l.rows.max(1),
                bias: l
                    .bias
                    .as_ref()
                    .map(|b| gpu.upload_f32(&l.name, b))
                    .transpose()?,
            })
        };
        let mut layers = Vec::with_capacity(w.layers.len());
        for (i, l) in w.layers.iter().enumerate() {
            let norm = |name: &str, v: &[f32]| gpu.upload_f32(&format!("blk.{i}.{name}"), v);
            let post = |name: &str, v: &Option<Vec<f32>>| v.as_ref().map(|v| norm(name, v));
            let qk_norm = match (&l.q_norm, &l.k_norm) {
                (Some(q), Some(k)) => Some((norm("attn_q_norm", q)?, norm("attn_k_norm", k)?)),
                _ => None,
            };
            layers.push(GpuLayer {
                attn_norm: norm("attn_norm", &l.attn_norm)?,
                qk_norm,
                q: linear(&l.q)?,
                k: linear(&l.k)?,
                v: linear(&l.v)?,
                o: linear(&l.o)?,
                ffn_norm: norm("ffn_norm", &l.ffn_norm)?,
                attn_post_norm: post("post_attention_norm", &l.attn_post_norm).transpose()?,
                ffn_post_norm: post("post_ffw_norm", &l.ffn_post_norm).transpose()?,
                gate: linear(&l.gate)?,
                up: linear(&l.up)?,
                down: linear(&l.down)?,
            });
        }
        let embed = linear(&w.embed)?;
        let output = if w.tied() {
            None
        } else {
            Some(linear(w.output())?)
        };
        let output_norm = gpu.upload_f32("output_norm.weight", &w.output_norm)?;
        let no_bias = gpu.scratch("no bias", 1)?;

        let compile = |name: &str, src: &str| {
            let module = gpu
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl(src.into()),
                });
            gpu.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(name),
                    layout: None,
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: None,
                })
        };
        let mut types: Vec<GgmlType> = layers
            .iter()
            .flat_map(|l| [&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down])
            .chain(output.iter())
            .chain([&embed])
            .map(|l| l.ty)
            .collect();
        types.sort();
        types.dedup();
        let mut matmul = BTreeMap::new();
        for ty in types {
            let src = shaders::matmul(ty).ok_or_else(|| {
                GpuError::Unsupported(format!("weight type {} in a matmul", ty.name()))
            })?;
            matmul.insert(ty, compile(&format!("matmul {}", ty.name()), &src));
        }
        let get_rows = shaders::get_rows(embed.ty).ok_or_else(|| {
            GpuError::Unsupported(format!("embedding of type {}", embed.ty.name()))
        })?;
        let kernels = Kernels {
            matmul,
            get_rows: compile("get_rows", &get_rows),
            rms_norm: compile("rms_norm", &shaders::rms_norm(gpu.f64)),
            rope: compile("rope", &shaders::plain(shaders::ROPE)),
            attention: compile("attention", &shaders::attention(gpu.f64)),
            glu: compile("glu", &shaders::glu(gpu.f64)),
            softcap: compile("softcap", &shaders::softcap(gpu.f64)),
            add: compile("add", &shaders::plain(shaders::ADD)),
            quant_act: compile("quant_act", &shaders::quant_act(gpu.f64)),
        };
        // Shader compilation and uploads report failures (an adapter limit, a WGSL feature the
        // driver lacks) here, at load, not on the first token.
        gpu.check("loading the model onto the GPU")?;
        Ok(GpuModel {
            kernels,
            embed,
            layers,
            output_norm,
            output,
            no_bias,
            gpu,
            model,
        })
    }

    /// The CPU model this was made from (config, metadata, tokenizer source).
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The adapter the model runs on: name, backend, device type, driver.
    pub fn adapter(&self) -> String {
        let i = &self.gpu.info;
        format!(
            "{} ({:?}, {:?}, {} {})",
            i.name, i.backend, i.device_type, i.driver, i.driver_info
        )
    }

    /// A KV cache on the device for `ctx` positions (the model's trained context for 0).
    pub fn new_cache(&self, ctx: usize) -> Result<GpuCache, GpuError> {
        let cfg = &self.model.config;
        let ctx = if ctx == 0 { cfg.context } else { ctx };
        let size = ctx * cfg.kv_dim();
        let mut k = Vec::with_capacity(cfg.layers);
        let mut v = Vec::with_capacity(cfg.layers);
        for l in 0..cfg.layers {
            k.push(self.gpu.scratch(&format!("cache k {l}"), size)?);
            v.push(self.gpu.scratch(&format!("cache v {l}"), size)?);
        }
        self.gpu.check("allocating the KV cache")?;
        Ok(GpuCache { k, v, ctx, len: 0 })
    }

    /// `Model::forward` on the GPU: `tokens` at the cache's next positions; logits `[n, vocab]`
    /// for `Logits::All`, `[vocab]` for `Logits::Last`.
    pub fn forward(
        &self,
        cache: &mut GpuCache,
        tokens: &[u32],
        logits: Logits,
    ) -> Result<Vec<f32>, ModelError> {
        self.forward_traced(cache, tokens, logits, None)
    }

    /// `Model::forward_traced` on the GPU: the same pass, and `observer` sees every named
    /// intermediate tensor the CPU's pass names, read back from the device after the pass.
    pub fn forward_traced(
        &self,
        cache: &mut GpuCache,
        tokens: &[u32],
        logits: Logits,
        observer: Option<&mut dyn Observer>,
    ) -> Result<Vec<f32>, ModelError> {
        let cfg = &self.model.config;
        let n = tokens.len();
        let start = cache.len;
        cfg.check_call(tokens, start, cache.ctx)?;
        if n > 65535 {
            return Err(GpuError::Unsupported(format!(
                "{n} tokens in one call (at most 65535: one grid dimension)"
            ))
            .into());
        }
        let out = self.run(cache, tokens, logits, observer)?;
        cache.len = start + n;
        Ok(out)
    }

    fn run(
        &self,
        cache: &GpuCache,
        tokens: &[u32],
        logits: Logits,
        observer: Option<&mut dyn Observer>,
    ) -> Result<Vec<f32>, GpuError> {
        let cfg = &self.model.config;
        let g = &self.gpu;
        let k = &self.kernels;
        let n = tokens.len();
        let start = cache.len;
        let (h, qd, kvd, hd, ffn) = (cfg.hidden, cfg.q_dim(), cfg.kv_dim(), cfg.head_dim, cfg.ffn);

        let tok = g.upload("tokens", bytemuck::cast_slice(tokens))?;
        // The angles of the call's positions, on the host as the CPU computes them: LongRoPE's
        // factors picked by the cache's capacity, and Gemma 3's sliding layers with a base of
        // their own and no scaling.
        let factors = match &cfg.rope_longrope {
            Some(lr) => Some(lr.factors(cache.ctx)),
            None => cfg.rope_factors.as_deref(),
        };
        let angles = |theta, scale, factors, yarn, mscale| {
            let freqs = ops::rope_freqs(theta, cfg.rope_dim, scale, factors, yarn);
            let table = RopeTable::new(&freqs, start..start + n, mscale);
            g.upload_f32("rope", &[table.cos, table.sin].concat())
        };
        let yarn = cfg.rope_yarn.as_ref();
        let global = angles(
            cfg.rope_theta,
            cfg.rope_freq_scale,
            factors,
            yarn,
            cfg.rope_mscale,
        )?;
        let local = match cfg.rope_theta_swa {
            Some(theta) => Some(angles(theta, 1.0, None, None, 1.0)?),
            None => None,
        };
        let x = g.scratch("x", n * h)?;
        let xn = g.scratch("xn", n * h)?;
        let (q, qn) = (g.scratch("q", n * qd)?, g.scratch("q normed", n * qd)?);
        let (kb, kn) = (g.scratch("k", n * kvd)?, g.scratch("k normed", n * kvd)?);
        let v = g.scratch("v", n * kvd)?;
        let attn = g.scratch("attn", n * qd)?;
        let proj = g.scratch("proj", n * h)?;
        let (gate, up) = (g.scratch("gate", n * ffn)?, g.scratch("up", n * ffn)?);
        let scores = g.scratch("scores", n * cfg.heads * (start + n))?;
        let widest = n * h.max(qd).max(ffn);
        let xq = (
            g.scratch("activation quants", widest)?,
            g.scratch("activation scales", 2 * widest / 32)?,
        );
        let m = match logits {
            Logits::All => n,
            Logits::Last => 1,
        };
        let last = g.scratch("last row", h)?;
        let normed = g.scratch("output_norm", m * h)?;
        let out = g.scratch("logits", m * cfg.vocab)?;

        let mut p = Plan::new(observer.is_some());
        let embed_scale = cfg.embed_scale.map_or(1.0, |s| s as f32);
        p.dispatch(
            &k.get_rows,
            params(&[
                h as u32,
                self.embed.row_bytes as u32,
                n as u32,
                embed_scale.to_bits(),
            ]),
            &[&self.embed.buf, &tok, &x],
            [h.div_ceil(64) as u32, n as u32, 1],
        );
        p.tap(&x, None, "embedding", n, h);
        let attn_cap = cfg.attn_softcap.map_or(0, |c| (c as f32).to_bits());
        for (l, layer) in self.layers.iter().enumerate() {
            let at = Some(l);
            let window = cfg.window(l);
            let cs = match (&local, window) {
                (Some(local), Some(_)) => local,
                _ => &global,
            };
            self.rms(&mut p, &x, &layer.attn_norm, &xn, n, h);
            p.tap(&xn, at, "attn_norm", n, h);
            self.matmul(&mut p, &layer.q, &xn, &q, n, &xq);
            self.matmul(&mut p, &layer.k, &xn, &kb, n, &xq);
            self.matmul(&mut p, &layer.v, &xn, &v, n, &xq);
            let (qr, kr) = match &layer.qk_norm {
                Some((qw, kw)) => {
                    // Every head of every token is one row of head_dim values.
                    self.rms(&mut p, &q, qw, &qn, n * cfg.heads, hd);
                    self.rms(&mut p, &kb, kw, &kn, n * cfg.kv_heads, hd);
                    p.tap(&qn, at, "q_norm", n, qd);
                    p.tap(&kn, at, "k_norm", n, kvd);
                    (&qn, &kn)
                }
                None => (&q, &kb),
            };
            self.rope(&mut p, qr, cs, n, cfg.heads);
            self.rope(&mut p, kr, cs, n, cfg.kv_heads);
            p.tap(qr, at, "q", n, qd);
            p.tap(kr, at, "k", n, kvd);
            p.tap(&v, at, "v", n, kvd);
            let (offset, size) = ((start * kvd * 4) as u64, (n * kvd * 4) as u64);
            p.copy(kr, 0, &cache.k[l], offset, size);
            p.copy(&v, 0, &cache.v[l], offset, size);
            p.dispatch(
                &k.attention,
                params(&[
                    start as u32,
                    hd as u32,
                    cfg.heads as u32,
                    kvd as u32,
                    (cfg.heads / cfg.kv_heads) as u32,
                    (start + n) as u32,
                    window.unwrap_or(0) as u32,
                    (cfg.attn_scale as f32).to_bits(),
                    attn_cap,
                ]),
                &[qr, &cache.k[l], &cache.v[l], &scores, &attn],
                [cfg.heads as u32, n as u32, 1],
            );
            self.matmul(&mut p, &layer.o, &attn, &proj, n, &xq);
            p.tap(&proj, at, "attn_out", n, h);
            let post = layer.attn_post_norm.as_ref().map(|w| (w, "attn_post_norm"));
            self.residual(&mut p, &x, &proj, post, &xn, n, at);
            self.rms(&mut p, &x, &layer.ffn_norm, &xn, n, h);
            p.tap(&xn, at, "ffn_norm", n, h);
            self.matmul(&mut p, &layer.gate, &xn, &gate, n, &xq);
            self.matmul(&mut p, &layer.up, &xn, &up, n, &xq);
            p.tap(&gate, at, "ffn_gate", n, ffn);
            p.tap(&up, at, "ffn_up", n, ffn);
            let act = match cfg.activation {
                Activation::Silu => 0,
                Activation::GeluTanh => 1,
                Activation::GeluTanhF16 => 2,
            };
            p.dispatch(
                &k.glu,
                params(&[(n * ffn) as u32, act]),
                &[&gate, &up],
                grid_1d(n * ffn),
            );
            self.matmul(&mut p, &layer.down, &gate, &proj, n, &xq);
            p.tap(&proj, at, "ffn_out", n, h);
            let post = layer.ffn_post_norm.as_ref().map(|w| (w, "ffn_post_norm"));
            self.residual(&mut p, &x, &proj, post, &xn, n, at);
            p.tap(&x, at, "output", n, h);
        }
        let rows = match logits {
            Logits::All => &x,
            Logits::Last => {
                p.copy(&x, ((n - 1) * h * 4) as u64, &last, 0, (h * 4) as u64);
                &last
            }
        };
        self.rms(&mut p, rows, &self.output_norm, &normed, m, h);
        p.tap(&normed, None, "output_norm", m, h);
        let head = self.output.as_ref().unwrap_or(&self.embed);
        self.matmul(&mut p, head, &normed, &out, m, &xq);
        if let Some(cap) = cfg.final_softcap {
            let len = m * cfg.vocab;
            p.dispatch(
                &k.softcap,
                params(&[len as u32, (cap as f32).to_bits()]),
                &[&out],
                grid_1d(len),
            );
        }
        p.tap(&out, None, "logits", m, cfg.vocab);
        let (encoder, taps) = p.encode(g);
        let logits = g.read_f32(encoder, &out, m * cfg.vocab)?;
        if let Some(obs) = observer {
            for (tap, staging) in taps {
                let data = g.read_staging(&staging, tap.rows * tap.cols, tap.name)?;
                obs.observe(TracePoint {
                    layer: tap.layer,
                    name: tap.name,
                    data: &data,
                    rows: tap.rows,
                    cols: tap.cols,
                });
            }
        }
        Ok(logits)
    }

    /// The residual `x += y` of `n` rows, through the block's post-norm first where it has one
    /// (Gemma: `x += rms_norm(y)`, normed into `scratch` and traced under the norm's name).
    #[allow(clippy::too_many_arguments)]
    fn residual<'a>(
        &'a self,
        p: &mut Plan<'a>,
        x: &'a wgpu::Buffer,
        y: &'a wgpu::Buffer,
        post_norm: Option<(&'a wgpu::Buffer, &'static str)>,
        scratch: &'a wgpu::Buffer,
        n: usize,
        layer: Option<usize>,
    ) {
        let h = self.model.config.hidden;
        let y = match post_norm {
            Some((w, name)) => {
                self.rms(p, y, w, scratch, n, h);
                p.tap(scratch, layer, name, n, h);
                scratch
            }
            None => y,
        };
        p.dispatch(
            &self.kernels.add,
            params(&[(n * h) as u32]),
            &[x, y],
            grid_1d(n * h),
        );
    }

    /// RMSNorm of `rows` rows of `cols` values.
    #[allow(clippy::too_many_arguments)]
    fn rms<'a>(
        &'a self,
        p: &mut Plan<'a>,
        src: &'a wgpu::Buffer,
        weight: &'a wgpu::Buffer,
        dst: &'a wgpu::Buffer,
        rows: usize,
        cols: usize,
    ) {
        let (gx, gy) = grid_rows(rows);
        let eps = self.model.config.norm_eps;
        let hi = eps as f32;
        let lo = (eps - f64::from(hi)) as f32;
        p.dispatch(
            &self.kernels.rms_norm,
            params(&[cols as u32, rows as u32, gx, hi.to_bits(), lo.to_bits()]),
            &[src, weight, dst],
            [gx, gy, 1],
        );
    }

    /// RoPE in place on `n` tokens of `heads` heads, by the angles in `cs`.
    fn rope<'a>(
        &'a self,
        p: &mut Plan<'a>,
        buf: &'a wgpu::Buffer,
        cs: &'a wgpu::Buffer,
        n: usize,
        heads: usize,
    ) {
        let cfg = &self.model.config;
        let half = cfg.rope_dim / 2;
        let style = match cfg.rope_style {
            RopeStyle::Adjacent => 0,
            RopeStyle::NeoX => 1,
        };
        p.dispatch(
            &self.kernels.rope,
            params(&[
                n as u32,
                heads as u32,
                cfg.head_dim as u32,
                half as u32,
                style,
            ]),
            &[buf, cs],
            grid_1d(n * heads * half),
        );
    }

    /// `y[t] = W x[t] (+ bias)` for `n` rows of `x`; for a block-quantized `W`, `x` first
    /// goes through the CPU's activation quantization (into `xq`: quants, scales).
    #[allow(clippy::too_many_arguments)]
    fn matmul<'a>(
        &'a self,
        p: &mut Plan<'a>,
        w: &'a GpuLinear,
        x: &'a wgpu::Buffer,
        y: &'a wgpu::Buffer,
        n: usize,
        xq: &'a (wgpu::Buffer, wgpu::Buffer),
    ) {
        // Quantized weights meet quantized activations (the CPU's integer dots): ints to `xq`,
        // scales to `xd`, then the matmul reads those instead of `x`.
        let quant = shaders::activation_quant(w.ty);
        if let Some((block, kind)) = quant {
            let blocks = n * w.cols / block as usize;
            p.dispatch(
                &self.kernels.quant_act,
                params(&[blocks as u32, block, kind]),
                &[x, &xq.0, &xq.1],
                grid_1d(blocks),
            );
        }
        let block = quant.map_or(1, |(b, _)| b as usize);
        let items = w.cols / block;
        let (gx, gy) = grid_rows(w.rows);
        let len = faults::gpu_row_items(items, quant.is_some());
        let bias = w.bias.as_ref().unwrap_or(&self.no_bias);
        let mut buffers = vec![&w.buf, if quant.is_some() { &xq.0 } else { x }, y, bias];
        if quant.is_some() {
            buffers.push(&xq.1);
        }
        p.dispatch(
            &self.kernels.matmul[&w.ty],
            params(&[
                w.rows as u32,
                w.cols as u32,
                w.row_bytes as u32,
                len as u32,
                u32::from(w.bias.is_some()),
                gx,
                block as u32,
            ]),
            &buffers,
            [gx, gy, n as u32],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernels' exp, division and tanh give the CPU's bits (f32::exp, SiLU's quotient,
    /// f32::tanh) on random inputs over the range attention and the FFN see, where the adapter
    /// has f64.
    #[test]
    fn exp_and_silu_on_the_gpu_are_the_cpus() {
        let gpu = Gpu::open().expect("a GPU adapter (Mesa's lavapipe in CI)");
        if !gpu.f64 {
            eprintln!("NOT RUN: {} has no f64", gpu.info.name);
            return;
        }
        let module = gpu
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("probe"),
                source: wgpu::ShaderSource::Wgsl(shaders::cpu_math_probe(true).into()),
            });
        let pipeline = gpu
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("probe"),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        // SplitMix64 over [-110, 110), an irregular count.
        let mut state = 0x5eed_u64;
        let n = 200_003;
        let x: Vec<f32> = (0..n)
            .map(|_| {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((z >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 220.0
            })
            .collect();
        let xb = gpu.upload_f32("x", &x).unwrap();
        let out: Vec<_> = ["exp", "silu", "tanh"]
            .iter()
            .map(|name| gpu.scratch(name, n).unwrap())
            .collect();
        // tanh sees X / 32 (an exact scaling): the range GELU and the soft-caps feed it.
        let scale = 1.0f32 / 32.0;
        let run = |k: usize| {
            let mut p = Plan::new(false);
            p.dispatch(
                &pipeline,
                params(&[n as u32, scale.to_bits()]),
                &[&xb, &out[0], &out[1], &out[2]],
                grid_1d(n),
            );
            gpu.read_f32(p.encode(&gpu).0, &out[k], n).unwrap()
        };
        let (exp, silu, tanh) = (run(0), run(1), run(2));
        let mut bad = Vec::new();
        for i in 0..n {
            let want = [
                x[i].exp(),
                Activation::Silu.apply(x[i]),
                (x[i] * scale).tanh(),
            ];
            let got = [exp[i], silu[i], tanh[i]];
            if got
                .iter()
                .zip(&want)
                .any(|(a, b)| a.to_bits() != b.to_bits())
            {
                bad.push((x[i], got, want));
            }
        }
        assert!(
            bad.is_empty(),
            "{} of {n} differ, e.g. {:?}",
            bad.len(),
            &bad[..bad.len().min(5)]
        );
    }
}
