// Per-position logits from llama.cpp for given token ids, written as raw little-endian float32
// [n_tokens, n_vocab]. Two modes: "batch" decodes all tokens in one batch; "incremental" decodes
// one token per call, exercising the KV cache. Flash attention is off and the KV cache is f32:
// the settings under which llama.cpp agrees with HF float64 to about 1e-6 (shared/notes).
//
// With TRACE.bin, every contiguous f32 tensor the graph computes is appended to TRACE.bin as it is
// evaluated, through llama.cpp's eval callback: the data behind llama-eval-callback's printout,
// whole. Record: u32 name length, name, u32 op-name length, op name, u32 n_dims, i64 ne[n_dims]
// (ggml order, innermost first), then the f32 values. In incremental mode an empty record (name,
// op and dims all zero-length) ends each call's graph, so the reader can put the per-token
// tensors back together.
//
// usage: llama-logits MODEL.gguf TOKENS OUT.bin batch|incremental [THREADS] [TRACE.bin]
//        TOKENS is a comma-separated list of token ids.
#include "ggml-backend.h"
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

static void put_str(FILE * f, const char * s) {
    const uint32_t n = (uint32_t) strlen(s);
    fwrite(&n, sizeof(n), 1, f);
    fwrite(s, 1, n, f);
}

// Asked first whether we want a tensor (ask), then called again once its data exist.
static bool trace_tensor(struct ggml_tensor * t, bool ask, void * user) {
    if (ask) {
        return t->type == GGML_TYPE_F32 && ggml_is_contiguous(t);
    }
    FILE * f = (FILE *) user;
    put_str(f, t->name);
    put_str(f, ggml_op_desc(t));
    const uint32_t n_dims = (uint32_t) ggml_n_dims(t);
    fwrite(&n_dims, sizeof(n_dims), 1, f);
    fwrite(t->ne, sizeof(int64_t), n_dims, f);
    std::vector<float> data(ggml_nelements(t));
    ggml_backend_tensor_get(t, data.data(), 0, ggml_nbytes(t));
    fwrite(data.data(), sizeof(float), data.size(), f);
    return true;
}

static int fail(const std::string & msg) {
    fprintf(stderr, "llama-logits: %s\n", msg.c_str());
    return 1;
}

int main(int argc, char ** argv) {
    if (argc < 5) {
        return fail("usage: llama-logits MODEL.gguf TOKENS OUT.bin batch|incremental [THREADS] [TRACE.bin]");
    }
    const std::string mode = argv[4];
    if (mode != "batch" && mode != "incremental") {
        return fail("mode must be batch or incremental, got " + mode);
    }
    const int threads = argc > 5 ? atoi(argv[5]) : 1;
    FILE * trace = nullptr;
    if (argc > 6) {
        trace = fopen(argv[6], "wb");
        if (!trace) {
            return fail(std::string("cannot write ") + argv[6]);
        }
    }
    std::vector<llama_token> tokens;
    std::stringstream ss(argv[2]);
    for (std::string item; std::getline(ss, item, ',');) {
        tokens.push_back((llama_token) atoi(item.c_str()));
    }
    const int n = (int) tokens.size();
    if (n == 0) {
        return fail("no tokens");
    }

    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        return fail(std::string("cannot load ") + argv[1]);
    }
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n;
    cp.n_batch = n;
    cp.n_ubatch = n;
    cp.n_seq_max = 1;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.no_perf = true;
    if (trace) {
        cp.cb_eval = trace_tensor;
        cp.cb_eval_user_data = trace;
    }
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        return fail("cannot create a context");
    }

    std::vector<float> out((size_t) n * n_vocab);
    const int step = mode == "batch" ? n : 1;
    llama_batch batch = llama_batch_init(step, 0, 1);
    for (int start = 0; start < n; start += step) {
        batch.n_tokens = step;
        for (int i = 0; i < step; ++i) {
            batch.token[i] = tokens[start + i];
            batch.pos[i] = start + i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i] = 1;
        }
        if (llama_decode(ctx, batch) != 0) {
            return fail("llama_decode failed at position " + std::to_string(start));
        }
        if (trace && step == 1) {
            put_str(trace, "");
            put_str(trace, "");
            const uint32_t none = 0;
            fwrite(&none, sizeof(none), 1, trace);
        }
        for (int i = 0; i < step; ++i) {
            const float * logits = llama_get_logits_ith(ctx, i);
            memcpy(&out[(size_t) (start + i) * n_vocab], logits, sizeof(float) * n_vocab);
        }
    }
    llama_batch_free(batch);

    FILE * f = fopen(argv[3], "wb");
    if (!f || fwrite(out.data(), sizeof(float), out.size(), f) != out.size()) {
        return fail(std::string("cannot write ") + argv[3]);
    }
    fclose(f);
    if (trace && fclose(trace) != 0) {
        return fail(std::string("cannot write ") + argv[6]);
    }
    printf("{\"n_tokens\": %d, \"n_vocab\": %d, \"mode\": \"%s\", \"threads\": %d}\n", n, n_vocab, mode.c_str(), threads);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
