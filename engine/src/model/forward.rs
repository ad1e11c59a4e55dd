//! The forward pass, read top to bottom: embedding, then per layer RMSNorm, Q/K/V, RoPE, causal
//! GQA attention over the KV cache, output projection, residual, RMSNorm, SwiGLU FFN, residual;
//! then the final norm and the LM head. Every matrix product runs through the quantized kernels.
//! Gemma adds to this: the embedding scaled, norms after attention and the FFN, GeGLU, scores
//! and logits soft-capped, and sliding-window layers with a RoPE base of their own.

use std::collections::BTreeMap;

use super::{Config, Linear, Model, ModelError};
use crate::faults::{self, Fault};
use crate::ops::{self, RopeTable};
use crate::quant::{matmul_input, Input};

use super::attention::attention;

/// Which positions get logits. Prefill needs only the last; parity checks need all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    All,
    Last,
}

/// Keys and values of every layer for up to `ctx` positions, allocated once. Values are one row
/// of `kv_dim` per position; keys are stored transposed, one row of `ctx` positions per key
/// dimension (`[layer][kv_dim][ctx]`), so that attention's scores for consecutive positions are
/// consecutive multiply-adds, each position's dot still summed dimension by dimension.
#[derive(Debug, Clone)]
pub struct KvCache {
    k: Vec<f32>,
    v: Vec<f32>,
    ctx: usize,
    kv_dim: usize,
    len: usize,
}

impl KvCache {
    pub fn new(cfg: &Config, ctx: usize) -> Self {
        let size = cfg.layers * ctx * cfg.kv_dim();
        KvCache {
            k: vec![0.0; size],
            v: vec![0.0; size],
            ctx,
            kv_dim: cfg.kv_dim(),
            len: 0,
        }
    }

    /// Positions filled so far: the next token runs at this position.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.ctx
    }

    /// Forgets every position; the memory stays allocated.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// One layer's keys (`[kv_dim][ctx]`) and values (`[ctx][kv_dim]`).
    pub(super) fn layer(&self, layer: usize) -> (&[f32], &[f32]) {
        let size = self.ctx * self.kv_dim;
        let range = layer * size..(layer + 1) * size;
        (&self.k[range.clone()], &self.v[range])
    }

    fn store(&mut self, layer: usize, pos: usize, k: &[f32], v: &[f32]) {
        let at = (layer * self.ctx + pos) * self.kv_dim;
        let mut key = k.to_vec();
        self.v[at..at + self.kv_dim].copy_from_slice(v);
        faults::round_kv_to_f16(&mut key, &mut self.v[at..at + self.kv_dim]);
        let keys = &mut self.k[layer * self.ctx * self.kv_dim..][..self.ctx * self.kv_dim];
        for (row, &x) in keys.chunks_exact_mut(self.ctx).zip(&key) {
            row[pos] = x;
        }
    }
}

/// One named intermediate tensor: `[rows, cols]`, one row per token of the call.
#[derive(Clone, Copy, Debug)]
pub struct TracePoint<'a> {
    /// None for tensors outside the layers (embedding, output_norm, logits).
    pub layer: Option<usize>,
    /// embedding, attn_norm, q_norm, k_norm, q, k, v (q and k after RoPE), attn_out,
    /// attn_post_norm, ffn_norm, ffn_gate, ffn_up, ffn_out, ffn_post_norm, output (the
    /// layer's), output_norm, logits.
    pub name: &'static str,
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
}

impl TracePoint<'_> {
    /// `layers.N.name`, or `name` outside the layers.
    pub fn key(&self) -> String {
        match self.layer {
            Some(l) => format!("layers.{l}.{}", self.name),
            None => self.name.to_string(),
        }
    }
}

/// Receives every named intermediate tensor of a forward pass (on the calling thread).
pub trait Observer: Send {
    fn observe(&mut self, point: TracePoint<'_>);
}

/// An observer that keeps a copy of everything, by key.
#[derive(Debug, Default)]
pub struct Trace {
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

impl Observer for Trace {
    fn observe(&mut self, p: TracePoint<'_>) {
        self.tensors
            .insert(p.key(), (vec![p.rows, p.cols], p.data.to_vec()));
    }
}

impl Model {
    /// The forward pass with an optional observer. `tokens` run at positions
    /// `cache.len()..cache.len() + tokens.len()`; the returned logits are `[n, vocab]` for
    /// `Logits::All`, `[vocab]` for `Logits::Last`.
    pub fn forward_traced(
        &self,
        cache: &mut KvCache,
        tokens: &[u32],
        logits: Logits,
        observer: Option<&mut dyn Observer>,
    ) -> Result<Vec<f32>, ModelError> {
        match &self.pool {
            Some(pool) => pool.install(|| self.forward_inner(cache, tokens, logits, observer)),
            None => self.forward_inner(cache, tokens, logits, observer),
        }
    }

    fn forward_inner(
        &self,
        cache: &mut KvCache,
        tokens: &[u32],
        logits: Logits,
        mut observer: Option<&mut dyn Observer>,
    ) -> Result<Vec<f32>, ModelError> {
        let cfg = &self.config;
        let w = &self.weights;
        let n = tokens.len();
        let start = cache.len;
        cfg.check_call(tokens, start, cache.ctx)?;
        let mut emit = |layer: Option<usize>, name: &'static str, data: &[f32], cols: usize| {
            if let Some(obs) = observer.as_deref_mut() {
                obs.observe(TracePoint {
                    layer,
                    name,
                    data,
                    rows: data.len() / cols,
                    cols,
                });
            }
        };
        let (h, qd, kvd, hd) = (cfg.hidden, cfg.q_dim(), cfg.kv_dim(), cfg.head_dim);

        let embed = w.matrix(&w.embed);
        let mut x = vec![0.0f32; n * h];
        for (row, &t) in x.chunks_exact_mut(h).zip(tokens) {
            crate::quant::dequantize(embed.ty, embed.row(t as usize), row)?;
        }
        if let Some(scale) = cfg.embed_scale {
            let scale = scale as f32;
            x.iter_mut().for_each(|v| *v *= scale);
        }
        emit(None, "embedding", &x, h);

        let factors = match &cfg.rope_longrope {
            // The fault picks LongRoPE's set by the positions of the call, as HF does, instead
            // of by the cache's capacity.
            Some(lr) if faults::is(Fault::LongRopeByPosition) => Some(lr.factors(start + n)),
            Some(lr) => Some(lr.factors(cache.ctx)),
            None => cfg.rope_factors.as_deref(),
        }
        .filter(|_| !faults::is(Fault::DropRopeFreqs));
        let global = Rope::new(
            &ops::rope_freqs(
                cfg.rope_theta,
                cfg.rope_dim,
                cfg.rope_freq_scale,
                factors,
                cfg.rope_yarn.as_ref(),
            ),
            if faults::is(Fault::DropYarnMscale) {
                1.0
            } else {
                cfg.rope_mscale
            },
            start,
            n,
        );
        // Gemma 3's sliding layers rotate with their own base and no scaling.
        let local = cfg.rope_theta_swa.map(|theta| {
            let freqs = ops::rope_freqs(theta, cfg.rope_dim, 1.0, None, None);
            Rope::new(&freqs, 1.0, start, n)
        });
        let skip_post_norm = faults::is(Fault::SkipPostNorm);
        let rope_style = faults::rope_style(cfg.rope_style);
        let mut xn = vec![0.0f32; n * h];
        let (mut q, mut k, mut v) = (vec![0.0; n * qd], vec![0.0; n * kvd], vec![0.0; n * kvd]);
        let mut attn = vec![0.0f32; n * qd];
        let mut proj = vec![0.0f32; n * h];
        let (mut gate, mut up) = (vec![0.0f32; n * cfg.ffn], vec![0.0f32; n * cfg.ffn]);
        // SiLU eight at a time unless the scalar kernel was asked for (the same bits either way).
        let simd = self.kernel.kernel() != crate::quant::Kernel::Scalar;
        for (l, layer) in w.layers.iter().enumerate() {
            let at = Some(l);
            let window = cfg.window(l);
            let rope = match (&local, window) {
                (Some(local), Some(_)) => local,
                _ => &global,
            };
            ops::rms_norm(&x, &layer.attn_norm, cfg.norm_eps, &mut xn);
            emit(at, "attn_norm", &xn, h);
            // Q, K and V read one input, quantized once.
            let mut input = Input::new(&xn, n);
            self.linear(&layer.q, &mut input, &mut q)?;
            self.linear(&layer.k, &mut input, &mut k)?;
            self.linear(&layer.v, &mut input, &mut v)?;
            if let (Some(qn), Some(kn)) = (&layer.q_norm, &layer.k_norm) {
                if !faults::is(Fault::SkipQkNorm) {
                    // Every head of every token is one row of head_dim values.
                    let (q_in, k_in) = (q.clone(), k.clone());
                    ops::rms_norm(&q_in, qn, cfg.norm_eps, &mut q);
                    ops::rms_norm(&k_in, kn, cfg.norm_eps, &mut k);
                }
                emit(at, "q_norm", &q, qd);
                emit(at, "k_norm", &k, kvd);
            }
            for i in 0..n {
                rope.q()
                    .apply(&mut q[i * qd..(i + 1) * qd], hd, i, rope_style);
                rope.k
                    .apply(&mut k[i * kvd..(i + 1) * kvd], hd, i, rope_style);
                let (ki, vi) = (&k[i * kvd..(i + 1) * kvd], &v[i * kvd..(i + 1) * kvd]);
                cache.store(l, start + i, ki, vi);
            }
            emit(at, "q", &q, qd);
            emit(at, "k", &k, kvd);
            emit(at, "v", &v, kvd);
            attention(cfg, cache, l, start, window, &q, &mut attn);
            self.linear(&layer.o, &mut Input::new(&attn, n), &mut proj)?;
            emit(at, "attn_out", &proj, h);
            post_norm(
                &layer.attn_post_norm,
                &mut proj,
                cfg.norm_eps,
                skip_post_norm,
            );
            if layer.attn_post_norm.is_some() {
                emit(at, "attn_post_norm", &proj, h);
            }
            ops::add_assign(&mut x, &proj);

            ops::rms_norm(&x, &layer.ffn_norm, cfg.norm_eps, &mut xn);
            emit(at, "ffn_norm", &xn, h);
            let mut input = Input::new(&xn, n);
            self.linear(&layer.gate, &mut input, &mut gate)?;
            self.linear(&layer.up, &mut input, &mut up)?;
            emit(at, "ffn_gate", &gate, cfg.ffn);
            emit(at, "ffn_up", &up, cfg.ffn);
            ops::glu(cfg.activation, &mut gate, &up, simd);
            self.linear(&layer.down, &mut Input::new(&gate, n), &mut proj)?;
            emit(at, "ffn_out", &proj, h);
            post_norm(
                &layer.ffn_post_norm,
                &mut proj,
                cfg.norm_eps,
                skip_post_norm,
            );
            if layer.ffn_post_norm.is_some() {
                emit(at, "ffn_post_norm", &proj, h);
            }
            ops::add_assign(&mut x, &proj);
            faults::scale_layer_output(l, &mut x);
            emit(at, "output", &x, h);
        }
        cache.len = start + n;

        let rows = match logits {
            Logits::All => 0..n,
            Logits::Last if faults::is(Fault::LastIsFirst) => 0..1,
            Logits::Last => n - 1..n,
        };
        let m = rows.len();
        let mut normed = vec![0.0f32; m * h];
        ops::rms_norm(
            &x[rows.start * h..rows.end * h],
            &w.output_norm,
            cfg.norm_eps,
            &mut normed,
        );
        emit(None, "output_norm", &normed, h);
        let mut out = vec![0.0f32; m * cfg.vocab];
        self.linear(w.output(), &mut Input::new(&normed, m), &mut out)?;
        if let Some(cap) = cfg
            .final_softcap
            .filter(|_| !faults::is(Fault::ForgetSoftcap))
        {
            ops::softcap(&mut out, cap as f32);
        }
        faults::leak_previous(&mut out);
        emit(None, "logits", &out, cfg.vocab);
        Ok(out)
    }

    fn linear(&self, w: &Linear, input: &mut Input, y: &mut [f32]) -> Result<(), ModelError> {
        matmul_input(&self.weights.matrix(w), input, y, self.kernel)?;
        if let Some(bias) = w.bias.as_ref().filter(|_| !faults::is(Fault::DropBias)) {
            for row in y.chunks_exact_mut(w.rows) {
                ops::add_assign(row, bias);
            }
        }
        Ok(())
    }
}

/// RoPE angles for the positions of one call, and the queries' own when the shift fault turns
/// decode's queries one position too far (a uniform shift of Q and K together would cancel:
/// attention sees only their difference).
struct Rope {
    k: RopeTable,
    q_shifted: Option<RopeTable>,
}

impl Rope {
    fn new(freqs: &[f32], mscale: f64, start: usize, n: usize) -> Self {
        Rope {
            k: RopeTable::new(freqs, start..start + n, mscale),
            q_shifted: faults::shifted_q_positions(start, n)
                .map(|positions| RopeTable::new(freqs, positions, mscale)),
        }
    }

    fn q(&self) -> &RopeTable {
        self.q_shifted.as_ref().unwrap_or(&self.k)
    }
}

/// Gemma's post-norm of a block's output rows, in place, unless the fault skips it.
fn post_norm(weight: &Option<Vec<f32>>, rows: &mut [f32], eps: f64, skip: bool) {
    if let Some(w) = weight.as_deref().filter(|_| !skip) {
        let input = rows.to_vec();
        ops::rms_norm(&input, w, eps, rows);
    }
}
