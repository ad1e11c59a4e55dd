// llama.cpp's tokenizer timed in process, for `make bench-tokenize`: the vocab-only GGUF loaded
// once (timed), then llama_tokenize over the whole text REPS times (add_special and parse_special
// off, as realizar's side is run), the median reported. Timing inside one process keeps
// llama.cpp's load and process start out of its encode figure.
//
// usage: llama-tokenize-bench VOCAB.gguf TEXT REPS IDS_OUT
//   prints {"load_s": .., "encode_s": .., "tokens": N} and writes the ids, space-separated, to
//   IDS_OUT, so the benchmark can check both engines gave the same ids.
#include "llama.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

static double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

int main(int argc, char ** argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s VOCAB.gguf TEXT REPS IDS_OUT\n", argv[0]);
        return 2;
    }
    llama_log_set([](enum ggml_log_level, const char *, void *) {}, nullptr);
    llama_backend_init();
    auto t = std::chrono::steady_clock::now();
    llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        return 1;
    }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const double load_s = seconds_since(t);

    std::ifstream in(argv[2], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    const int reps = std::max(1, atoi(argv[3]));
    // At most one token per byte: no special tokens are added, and byte fallback is one byte each.
    std::vector<llama_token> ids(text.size() + 16);
    std::vector<double> times;
    int32_t n = 0;
    for (int r = 0; r < reps; r++) {
        t = std::chrono::steady_clock::now();
        n = llama_tokenize(vocab, text.data(), (int32_t) text.size(), ids.data(), (int32_t) ids.size(),
                           false, false);
        times.push_back(seconds_since(t));
        if (n < 0) {
            fprintf(stderr, "llama_tokenize needs %d slots\n", -n);
            return 1;
        }
    }
    std::sort(times.begin(), times.end());
    FILE * out = fopen(argv[4], "w");
    if (!out) {
        fprintf(stderr, "cannot write %s\n", argv[4]);
        return 1;
    }
    for (int32_t i = 0; i < n; i++) {
        fprintf(out, i ? " %d" : "%d", ids[i]);
    }
    fclose(out);
    printf("{\"load_s\": %.6f, \"encode_s\": %.6f, \"tokens\": %d}\n", load_s, times[times.size() / 2], n);
    llama_model_free(model);
    return 0;
}
