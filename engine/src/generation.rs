//! What `realizar run` does between the prompt's ids and the next token, as a library: prefill
//! the prompt in one call that asks only for the last position's logits, then one token per
//! call through the KV cache, each drawn from the logits of the call before. The CLI and the
//! oracle's RUN-PATH contract both drive this one type, so the contract checks the path users
//! run rather than a copy of it.

use crate::backend::{CacheState, Forward};
use crate::model::{Logits, Model, ModelError};
use crate::sampling::{Sampler, SamplerConfig};

/// The cache `realizar run` allocates when no `--ctx` is given: the model's trained context,
/// at most this many positions.
pub const DEFAULT_CTX: usize = 4096;

/// Over any backend's model ([`Forward`]): the CPU's `Model` by default, a
/// [`crate::backend::Runtime`] for the backend a user chose.
pub struct Generation<'m, M: Forward = Model> {
    model: &'m M,
    cache: M::Cache,
    sampler: Sampler,
    logits: Vec<f32>,
}

impl<'m, M: Forward> Generation<'m, M> {
    /// Prefills `prompt` into a cache of `ctx` positions (0: the model's context, at most
    /// [`DEFAULT_CTX`]); the prompt's tokens enter the sampler's history.
    pub fn start(
        model: &'m M,
        prompt: &[u32],
        ctx: usize,
        sampler: SamplerConfig,
    ) -> Result<Self, ModelError> {
        let ctx = match ctx {
            0 => model.config().context.min(DEFAULT_CTX),
            n => n,
        };
        if prompt.is_empty() {
            return Err(ModelError::NoTokens);
        }
        if prompt.len() >= ctx {
            return Err(ModelError::ContextFull {
                needed: prompt.len() + 1,
                ctx,
            });
        }
        let mut cache = model.new_cache(ctx)?;
        let mut sampler = Sampler::new(sampler);
        for &t in prompt {
            sampler.accept(t);
        }
        let logits = model.forward(&mut cache, prompt, Logits::Last)?;
        Ok(Generation {
            model,
            cache,
            sampler,
            logits,
        })
    }

    /// The logits the next token is drawn from.
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }

    /// Draws the next token from [`Self::logits`] by the sampler chain.
    pub fn sample(&mut self) -> u32 {
        self.sampler.sample(&self.logits)
    }

    /// Whether the cache has room for another token.
    pub fn is_full(&self) -> bool {
        self.cache.len() == self.cache.capacity()
    }

    /// Appends `token` (sampled, or forced by a caller that checks the path): it enters the
    /// sampler's history and one decode call gives the logits after it.
    pub fn advance(&mut self, token: u32) -> Result<(), ModelError> {
        self.sampler.accept(token);
        self.logits = self
            .model
            .forward(&mut self.cache, &[token], Logits::Last)?;
        Ok(())
    }

    /// Positions in the cache.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.len() == 0
    }
}
