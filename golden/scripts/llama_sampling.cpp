// llama.cpp's sampler chain, one stage at a time, on given logits: what each of llama.cpp's own
// samplers (libllama's llama_sampler_init_*) leaves of the candidates, in the order common's
// default chain runs them: penalties (repetition, frequency, presence, over the last n tokens of
// the history), top-k, top-p, min-p, temperature, then dist (softmax and the seeded draw).
//
// usage: llama-sampling LOGITS.bin HISTORY LAST_N REPEAT FREQ PRESENT TOP_K TOP_P MIN_P TEMP SEED
//        LOGITS.bin holds n_vocab little-endian float32; HISTORY is a comma-separated list of
//        token ids ("-" for none), accepted by the penalties sampler oldest first.
// Prints one JSON object: {"stages": [{"name", "sorted", "ids", "logits"}...], "probs",
// "selected"}; each stage lists the candidates it leaves in the array's order, with their logits,
// and "probs" are dist's probabilities of the final candidates. Logits and probabilities are
// printed with 9 significant digits, enough to round-trip a float32.
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

static int fail(const std::string & msg) {
    fprintf(stderr, "llama-sampling: %s\n", msg.c_str());
    return 1;
}

static void print_stage(const char * name, const llama_token_data_array & cur, bool first) {
    printf("%s{\"name\": \"%s\", \"sorted\": %s, \"ids\": [", first ? "" : ", ", name,
           cur.sorted ? "true" : "false");
    for (size_t i = 0; i < cur.size; ++i) {
        printf("%s%d", i ? ", " : "", cur.data[i].id);
    }
    printf("], \"logits\": [");
    for (size_t i = 0; i < cur.size; ++i) {
        printf("%s%.9g", i ? ", " : "", cur.data[i].logit);
    }
    printf("]}");
}

int main(int argc, char ** argv) {
    if (argc != 12) {
        return fail("usage: llama-sampling LOGITS.bin HISTORY LAST_N REPEAT FREQ PRESENT TOP_K "
                    "TOP_P MIN_P TEMP SEED");
    }
    FILE * f = fopen(argv[1], "rb");
    if (!f) {
        return fail(std::string("cannot open ") + argv[1]);
    }
    std::vector<float> logits;
    float v;
    while (fread(&v, sizeof(v), 1, f) == 1) {
        logits.push_back(v);
    }
    fclose(f);
    if (logits.empty()) {
        return fail("no logits");
    }
    std::vector<llama_token> history;
    if (std::string(argv[2]) != "-") {
        std::stringstream ss(argv[2]);
        std::string item;
        while (std::getline(ss, item, ',')) {
            history.push_back((llama_token) std::stol(item));
        }
    }
    const int32_t n_vocab = (int32_t) logits.size();
    const int32_t last_n  = atoi(argv[3]);
    const float   repeat  = (float) atof(argv[4]);
    const float   freq    = (float) atof(argv[5]);
    const float   present = (float) atof(argv[6]);
    const int32_t top_k   = atoi(argv[7]);
    const float   top_p   = (float) atof(argv[8]);
    const float   min_p   = (float) atof(argv[9]);
    const float   temp    = (float) atof(argv[10]);
    const uint32_t seed   = (uint32_t) strtoul(argv[11], nullptr, 10);

    std::vector<llama_token_data> data(n_vocab);
    for (int32_t i = 0; i < n_vocab; ++i) {
        data[i] = llama_token_data{ i, logits[i], 0.0f };
    }
    llama_token_data_array cur = { data.data(), data.size(), -1, false };

    // min_keep 0, as common's default chain passes params.min_keep (0).
    struct {
        const char * name;
        llama_sampler * smpl;
    } stages[] = {
        { "penalties", llama_sampler_init_penalties(n_vocab, last_n, repeat, freq, present) },
        { "top_k", llama_sampler_init_top_k(top_k) },
        { "top_p", llama_sampler_init_top_p(top_p, 0) },
        { "min_p", llama_sampler_init_min_p(min_p, 0) },
        { "temperature", llama_sampler_init_temp(temp) },
    };
    for (llama_token t : history) {
        llama_sampler_accept(stages[0].smpl, t);
    }
    printf("{\"stages\": [");
    bool first = true;
    for (auto & s : stages) {
        llama_sampler_apply(s.smpl, &cur);
        print_stage(s.name, cur, first);
        first = false;
        llama_sampler_free(s.smpl);
    }
    llama_sampler * dist = llama_sampler_init_dist(seed);
    llama_sampler_apply(dist, &cur);
    printf("], \"probs\": [");
    for (size_t i = 0; i < cur.size; ++i) {
        printf("%s%.9g", i ? ", " : "", cur.data[i].p);
    }
    printf("], \"selected\": %d}\n", cur.data[cur.selected].id);
    llama_sampler_free(dist);
    return 0;
}
