// llama.cpp as an engine under test: answers the oracle's engine protocol (docs/engine-protocol.md)
// against the pinned libllama, the way `realizar protocol` does for realizar. Built by
// `make engine-llamacpp` (golden/scripts/llama_tools.py --program): then
//
//     oracle verify --engine 'cmd:golden/.cache/llama-build/bin/llama-engine'
//
// Settings as for the goldens' llama-logits (golden/scripts/llama_logits.cpp): CPU, one thread,
// flash attention off, f32 KV cache. A request it does not understand (an unknown op or field,
// another protocol version) exits 1 naming what, as the protocol asks.
//
// usage: llama-engine REQUEST.json
#include "ggml-backend.h"
#include "llama.h"

#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// ---- the request: one flat JSON object of strings, integers, booleans and arrays of those ----

struct Value {
    enum Kind { Str, Num, Bool, Arr } kind = Str;
    std::string s;
    long long n = 0;
    bool b = false;
    std::vector<Value> items;
};

struct Parser {
    const std::string & t;
    size_t i = 0;

    void ws() {
        while (i < t.size() && isspace((unsigned char) t[i])) {
            ++i;
        }
    }
    char peek() {
        ws();
        if (i >= t.size()) {
            throw std::runtime_error("the request ends early");
        }
        return t[i];
    }
    void expect(char c) {
        if (peek() != c) {
            throw std::runtime_error(std::string("expected '") + c + "' at byte " + std::to_string(i));
        }
        ++i;
    }
    std::string string() {
        expect('"');
        std::string out;
        while (i < t.size() && t[i] != '"') {
            char c = t[i++];
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i >= t.size()) {
                break;
            }
            char e = t[i++];
            switch (e) {
                case 'n': out += '\n'; break;
                case 't': out += '\t'; break;
                case 'r': out += '\r'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'u': {
                    if (i + 4 > t.size()) {
                        throw std::runtime_error("a short \\u escape");
                    }
                    unsigned cp = (unsigned) std::stoul(t.substr(i, 4), nullptr, 16);
                    i += 4;
                    // A surrogate pair: one code point from two escapes.
                    if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= t.size() && t[i] == '\\' && t[i + 1] == 'u') {
                        unsigned lo = (unsigned) std::stoul(t.substr(i + 2, 4), nullptr, 16);
                        i += 6;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    if (cp < 0x80) {
                        out += (char) cp;
                    } else if (cp < 0x800) {
                        out += (char) (0xC0 | (cp >> 6));
                        out += (char) (0x80 | (cp & 0x3F));
                    } else if (cp < 0x10000) {
                        out += (char) (0xE0 | (cp >> 12));
                        out += (char) (0x80 | ((cp >> 6) & 0x3F));
                        out += (char) (0x80 | (cp & 0x3F));
                    } else {
                        out += (char) (0xF0 | (cp >> 18));
                        out += (char) (0x80 | ((cp >> 12) & 0x3F));
                        out += (char) (0x80 | ((cp >> 6) & 0x3F));
                        out += (char) (0x80 | (cp & 0x3F));
                    }
                    break;
                }
                default: out += e;
            }
        }
        expect('"');
        return out;
    }
    Value value() {
        Value v;
        char c = peek();
        if (c == '"') {
            v.kind = Value::Str;
            v.s = string();
        } else if (c == '[') {
            v.kind = Value::Arr;
            ++i;
            if (peek() == ']') {
                ++i;
                return v;
            }
            for (;;) {
                v.items.push_back(value());
                if (peek() == ',') {
                    ++i;
                    continue;
                }
                expect(']');
                break;
            }
        } else if (t.compare(i, 4, "true") == 0 || t.compare(i, 5, "false") == 0) {
            v.kind = Value::Bool;
            v.b = t[i] == 't';
            i += v.b ? 4 : 5;
        } else if (c == '-' || isdigit((unsigned char) c)) {
            v.kind = Value::Num;
            size_t used = 0;
            v.n = std::stoll(t.substr(i), &used);
            i += used;
        } else {
            throw std::runtime_error("unexpected '" + std::string(1, c) + "' at byte " + std::to_string(i));
        }
        return v;
    }
    std::map<std::string, Value> object() {
        std::map<std::string, Value> out;
        expect('{');
        if (peek() == '}') {
            ++i;
            return out;
        }
        for (;;) {
            std::string key = string();
            expect(':');
            out[key] = value();
            if (peek() == ',') {
                ++i;
                continue;
            }
            expect('}');
            break;
        }
        return out;
    }
};

// Reads each field once; whatever is left afterwards was not understood.
struct Request {
    std::map<std::string, Value> fields;

    const Value & take(const std::string & key, Value::Kind kind) {
        auto it = fields.find(key);
        if (it == fields.end()) {
            throw std::runtime_error("the request has no \"" + key + "\"");
        }
        if (it->second.kind != kind) {
            throw std::runtime_error("\"" + key + "\" has the wrong type");
        }
        taken.push_back(key);
        return it->second;
    }
    std::string str(const std::string & key) { return take(key, Value::Str).s; }
    bool flag(const std::string & key) { return take(key, Value::Bool).b; }
    std::vector<llama_token> tokens(const std::string & key) {
        std::vector<llama_token> out;
        for (const Value & v : take(key, Value::Arr).items) {
            if (v.kind != Value::Num) {
                throw std::runtime_error("\"" + key + "\" holds a non-integer");
            }
            out.push_back((llama_token) v.n);
        }
        return out;
    }
    std::vector<std::string> strings(const std::string & key) {
        std::vector<std::string> out;
        for (const Value & v : take(key, Value::Arr).items) {
            if (v.kind != Value::Str) {
                throw std::runtime_error("\"" + key + "\" holds a non-string");
            }
            out.push_back(v.s);
        }
        return out;
    }
    void done() {
        for (const auto & kv : fields) {
            bool seen = false;
            for (const auto & k : taken) {
                seen = seen || k == kv.first;
            }
            if (!seen) {
                throw std::runtime_error("unknown field \"" + kv.first + "\"");
            }
        }
    }

    std::vector<std::string> taken;
};

// ---- answers ----

// A little-endian float32 .npy (version 1) of `shape`.
static void write_npy(const std::string & path, const std::vector<size_t> & shape, const float * data) {
    std::string dims;
    size_t count = 1;
    for (size_t d : shape) {
        dims += std::to_string(d) + ", ";
        count *= d;
    }
    if (shape.size() > 1) {
        dims.resize(dims.size() - 2);
    }
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    while ((10 + header.size() + 1) % 64 != 0) {
        header += ' ';
    }
    header += '\n';
    std::ofstream f(path, std::ios::binary);
    const uint16_t len = (uint16_t) header.size();
    f.write("\x93NUMPY\x01\x00", 8);
    f.write((const char *) &len, 2);
    f.write(header.data(), (std::streamsize) header.size());
    f.write((const char *) data, (std::streamsize) (count * sizeof(float)));
    if (!f) {
        throw std::runtime_error("cannot write " + path);
    }
}

// llama.cpp's graph names for the oracle's trace names (docs/engine-protocol.md); per layer the
// name is suffixed "-N". Gemma's scaled embedding is inp_scaled.
static const char * LAYER_NAMES[][2] = {
    {"attn_norm", "attn_norm"}, {"Qcur_normed", "q_norm"}, {"Kcur_normed", "k_norm"},
    {"Qcur", "q"}, {"Kcur", "k"}, {"Vcur", "v"}, {"attn_out", "attn_out"},
    {"attn_post_norm", "attn_post_norm"}, {"ffn_norm", "ffn_norm"}, {"ffn_gate", "ffn_gate"},
    {"ffn_up", "ffn_up"}, {"ffn_out", "ffn_out"}, {"ffn_post_norm", "ffn_post_norm"},
    {"l_out", "output"},
};

// Whether the trace answer reads a graph name (the per-layer ones suffixed "-N").
static bool wanted(const std::string & name) {
    const size_t dash = name.rfind('-');
    const std::string base = dash == std::string::npos ? name : name.substr(0, dash);
    for (const auto & names : LAYER_NAMES) {
        if (base == names[0]) {
            return true;
        }
    }
    return name == "embd" || name == "inp_scaled" || name == "result_norm" || name == "result_output";
}

// The eval callback's capture: every contiguous f32 tensor by name (the last one computed under
// a name wins, except that Qcur and Kcur are taken after RoPE, where the oracle compares them),
// and the current layer's two-dimensional tensors by node as they were computed (their memory
// may be reused by a later node), for the attention outputs a graph leaves unnamed. Only what
// the answer reads is kept: a real model's every intermediate would not fit.
struct Capture {
    struct Tensor {
        std::vector<int64_t> ne;
        std::vector<float> data;
    };
    std::map<std::string, Tensor> by_name;
    std::map<const ggml_tensor *, Tensor> by_node;
};

static bool starts(const std::string & s, const char * prefix) { return s.rfind(prefix, 0) == 0; }

// A tensor's f32 values in logical order (ne0 fastest), gathered through its strides: Phi-3's
// Vcur is a view into the fused QKV projection, not contiguous.
static std::vector<float> values(const ggml_tensor * t) {
    std::vector<uint8_t> raw(ggml_nbytes(t));
    ggml_backend_tensor_get(t, raw.data(), 0, raw.size());
    std::vector<float> out;
    out.reserve(ggml_nelements(t));
    for (int64_t i3 = 0; i3 < t->ne[3]; ++i3) {
        for (int64_t i2 = 0; i2 < t->ne[2]; ++i2) {
            for (int64_t i1 = 0; i1 < t->ne[1]; ++i1) {
                for (int64_t i0 = 0; i0 < t->ne[0]; ++i0) {
                    float v;
                    memcpy(&v, &raw[i0 * t->nb[0] + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3]], 4);
                    out.push_back(v);
                }
            }
        }
    }
    return out;
}

static bool capture(struct ggml_tensor * t, bool ask, void * user) {
    if (ask) {
        return t->type == GGML_TYPE_F32;
    }
    Capture & c = *(Capture *) user;
    const std::string name = t->name;
    const bool named = wanted(name) &&
                       !((starts(name, "Qcur-") || starts(name, "Kcur-")) && t->op != GGML_OP_ROPE);
    if (!named && ggml_n_dims(t) > 2) {
        return true;
    }
    Capture::Tensor node;
    node.ne.assign(t->ne, t->ne + ggml_n_dims(t));
    node.data = values(t);
    if (named) {
        c.by_name[name] = node;
    }
    if (ggml_n_dims(t) <= 2) {
        c.by_node[t] = std::move(node);
    }
    // Only Llama's graph names the attention block's output projection (attn_out-N). In the
    // others it is what the residual adds (ffn_inp-N = attn_out + input; Phi-3 leaves that sum
    // unnamed too: ffn_norm-N = rms_norm(attn_out + input) * w) or, in Gemma's, what the
    // post-norm normalizes (attn_post_norm-N = rms_norm(attn_out) * w).
    const ggml_tensor * src = nullptr;
    std::string layer;
    auto input = [](const ggml_tensor * x, ggml_op op) {
        return x && x->src[0] && x->src[0]->op == op ? x->src[0] : nullptr;
    };
    if (starts(name, "ffn_inp-")) {
        layer = name.substr(8);
        src = t->src[0];
    } else if (starts(name, "attn_post_norm-")) {
        layer = name.substr(15);
        const ggml_tensor * norm = input(t, GGML_OP_RMS_NORM);
        src = norm ? norm->src[0] : nullptr;
    } else if (starts(name, "ffn_norm-")) {
        layer = name.substr(9);
        // Only where no post-norm sits between the attention and the residual (not Gemma).
        const ggml_tensor * sum = input(input(t, GGML_OP_RMS_NORM), GGML_OP_ADD);
        if (!c.by_name.count("attn_post_norm-" + layer)) {
            src = sum ? sum->src[0] : nullptr;
        }
    }
    if (src && !c.by_name.count("attn_out-" + layer)) {
        auto it = c.by_node.find(src);
        if (it != c.by_node.end()) {
            c.by_name["attn_out-" + layer] = it->second;
        }
    }
    // The layer is done: none of its nodes is looked up again.
    if (starts(name, "l_out-")) {
        c.by_node.clear();
    }
    return true;
}

struct Engine {
    llama_model * model = nullptr;
    llama_context * ctx = nullptr;

    Engine(const std::string & path, bool vocab_only, int n_ctx, Capture * trace) {
        llama_model_params mp = llama_model_default_params();
        mp.n_gpu_layers = 0;
        mp.vocab_only = vocab_only;
        model = llama_model_load_from_file(path.c_str(), mp);
        if (!model) {
            throw std::runtime_error("llama.cpp cannot load " + path);
        }
        if (vocab_only) {
            return;
        }
        llama_context_params cp = llama_context_default_params();
        cp.n_ctx = n_ctx;
        cp.n_batch = n_ctx;
        cp.n_ubatch = n_ctx;
        cp.n_seq_max = 1;
        cp.n_threads = 1;
        cp.n_threads_batch = 1;
        cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
        cp.type_k = GGML_TYPE_F32;
        cp.type_v = GGML_TYPE_F32;
        cp.no_perf = true;
        if (trace) {
            cp.cb_eval = capture;
            cp.cb_eval_user_data = trace;
        }
        ctx = llama_init_from_model(model, cp);
        if (!ctx) {
            throw std::runtime_error("llama.cpp cannot create a context for " + path);
        }
    }
    ~Engine() {
        if (ctx) {
            llama_free(ctx);
        }
        if (model) {
            llama_model_free(model);
        }
    }

    int vocab() const { return llama_vocab_n_tokens(llama_model_get_vocab(model)); }

    // Every position's logits, the tokens in one batch or one per call.
    std::vector<float> logits(const std::vector<llama_token> & tokens, bool batch) {
        const int n = (int) tokens.size(), nv = vocab(), step = batch ? n : 1;
        std::vector<float> out((size_t) n * nv);
        llama_batch b = llama_batch_init(step, 0, 1);
        for (int start = 0; start < n; start += step) {
            b.n_tokens = step;
            for (int i = 0; i < step; ++i) {
                b.token[i] = tokens[start + i];
                b.pos[i] = start + i;
                b.n_seq_id[i] = 1;
                b.seq_id[i][0] = 0;
                b.logits[i] = 1;
            }
            if (llama_decode(ctx, b) != 0) {
                llama_batch_free(b);
                throw std::runtime_error("llama_decode failed at position " + std::to_string(start));
            }
            for (int i = 0; i < step; ++i) {
                memcpy(&out[(size_t) (start + i) * nv], llama_get_logits_ith(ctx, i), sizeof(float) * nv);
            }
        }
        llama_batch_free(b);
        return out;
    }
};

static int answer(Request & r) {
    if (r.take("protocol", Value::Num).n != 1) {
        throw std::runtime_error("protocol version " + std::to_string(r.fields["protocol"].n) +
                                 " requested; this engine speaks 1");
    }
    const std::string op = r.str("op");
    if (op == "logits") {
        const std::string model = r.str("model"), mode = r.str("mode"), output = r.str("output");
        const auto tokens = r.tokens("tokens");
        r.done();
        if (mode != "batch" && mode != "incremental") {
            throw std::runtime_error("unknown mode \"" + mode + "\"");
        }
        if (tokens.empty()) {
            throw std::runtime_error("no tokens");
        }
        Engine e(model, false, (int) tokens.size(), nullptr);
        const auto out = e.logits(tokens, mode == "batch");
        write_npy(output, {tokens.size(), (size_t) e.vocab()}, out.data());
    } else if (op == "trace") {
        const std::string model = r.str("model"), output = r.str("output");
        const auto tokens = r.tokens("tokens");
        r.done();
        if (tokens.empty()) {
            throw std::runtime_error("no tokens");
        }
        Capture c;
        Engine e(model, false, (int) tokens.size(), &c);
        e.logits(tokens, true);
        mkdir(output.c_str(), 0755);
        const size_t n = tokens.size();
        auto put = [&](const std::string & theirs, const std::string & ours) {
            auto it = c.by_name.find(theirs);
            if (it == c.by_name.end() || it->second.ne.empty() || (size_t) it->second.ne.back() != n) {
                return;  // not computed for this model, or not one row per token: not traced
            }
            const size_t cols = it->second.data.size() / n;
            write_npy(output + "/" + ours + ".npy", {n, cols}, it->second.data.data());
        };
        put(c.by_name.count("inp_scaled") ? "inp_scaled" : "embd", "embedding");
        const int layers = llama_model_n_layer(e.model);
        for (int l = 0; l < layers; ++l) {
            // A fused gate and up projection (Phi-3's ffn_up-N, SwiGLU over its two halves):
            // the gate is the first half of each row, up the second.
            const std::string up = "ffn_up-" + std::to_string(l), gate = "ffn_gate-" + std::to_string(l);
            auto fused = c.by_name.find(up);
            if (!c.by_name.count(gate) && fused != c.by_name.end() && fused->second.ne.size() == 2) {
                Capture::Tensor whole = fused->second, halves[2];
                const int64_t width = whole.ne[0] / 2, rows = whole.ne[1];
                for (int h = 0; h < 2; ++h) {
                    halves[h].ne = {width, rows};
                    for (int64_t r = 0; r < rows; ++r) {
                        const float * row = whole.data.data() + r * whole.ne[0] + h * width;
                        halves[h].data.insert(halves[h].data.end(), row, row + width);
                    }
                }
                c.by_name[gate] = halves[0];
                c.by_name[up] = halves[1];
            }
            for (const auto & names : LAYER_NAMES) {
                put(std::string(names[0]) + "-" + std::to_string(l),
                    "layers." + std::to_string(l) + "." + names[1]);
            }
        }
        put("result_norm", "output_norm");
        put("result_output", "logits");
    } else if (op == "tokenize") {
        const std::string vocab = r.str("vocab"), output = r.str("output");
        const auto texts = r.strings("texts");
        const bool add_special = r.flag("add_special"), parse_special = r.flag("parse_special");
        r.done();
        Engine e(vocab, true, 0, nullptr);
        const llama_vocab * v = llama_model_get_vocab(e.model);
        std::string json = "{\"ids\": [";
        for (size_t t = 0; t < texts.size(); ++t) {
            const std::string & text = texts[t];
            std::vector<llama_token> ids(text.size() + 16);
            int got = llama_tokenize(v, text.data(), (int32_t) text.size(), ids.data(), (int32_t) ids.size(),
                                     add_special, parse_special);
            if (got < 0) {
                ids.resize((size_t) -got);
                got = llama_tokenize(v, text.data(), (int32_t) text.size(), ids.data(), (int32_t) ids.size(),
                                     add_special, parse_special);
            }
            if (got < 0) {
                throw std::runtime_error("llama_tokenize failed on text " + std::to_string(t));
            }
            json += t ? ", [" : "[";
            for (int i = 0; i < got; ++i) {
                json += (i ? ", " : "") + std::to_string(ids[i]);
            }
            json += "]";
        }
        json += "]}";
        std::ofstream f(output);
        f << json;
        if (!f) {
            throw std::runtime_error("cannot write " + output);
        }
    } else {
        throw std::runtime_error("unknown op \"" + op + "\"");
    }
    return 0;
}

static void quiet(enum ggml_log_level level, const char * text, void *) {
    if (level >= GGML_LOG_LEVEL_ERROR) {
        fputs(text, stderr);
    }
}

int main(int argc, char ** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: llama-engine REQUEST.json (docs/engine-protocol.md)\n");
        return 2;
    }
    try {
        std::ifstream in(argv[1]);
        if (!in) {
            throw std::runtime_error(std::string("cannot read ") + argv[1]);
        }
        std::stringstream text;
        text << in.rdbuf();
        const std::string body = text.str();
        Parser p{body};
        Request r;
        r.fields = p.object();
        llama_log_set(quiet, nullptr);
        llama_backend_init();
        const int rc = answer(r);
        llama_backend_free();
        return rc;
    } catch (const std::exception & e) {
        fprintf(stderr, "llama-engine: %s\n", e.what());
        return 1;
    }
}
