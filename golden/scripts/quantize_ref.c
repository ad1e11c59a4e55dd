// ggml's reference quantizers (quantize_row_*_ref, the ones llama-quantize uses without an
// imatrix) on raw f32 rows: `quantize_ref TYPE N IN OUT` reads N f32 values from IN and writes
// the quantized blocks to OUT. Built and run by ggml_quantize_ref.py.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-quants.h"

typedef void (*quantize_fn)(const float *, void *, int64_t);

static const struct {
    const char *name;
    enum ggml_type type;
    quantize_fn fn;
} TYPES[] = {
    {"Q2_K", GGML_TYPE_Q2_K, (quantize_fn)quantize_row_q2_K_ref},
    {"Q3_K", GGML_TYPE_Q3_K, (quantize_fn)quantize_row_q3_K_ref},
    {"Q4_K", GGML_TYPE_Q4_K, (quantize_fn)quantize_row_q4_K_ref},
    {"Q5_K", GGML_TYPE_Q5_K, (quantize_fn)quantize_row_q5_K_ref},
    {"Q6_K", GGML_TYPE_Q6_K, (quantize_fn)quantize_row_q6_K_ref},
    {"Q8_K", GGML_TYPE_Q8_K, (quantize_fn)quantize_row_q8_K_ref},
};

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s TYPE N IN OUT\n", argv[0]);
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
        if (strcmp(argv[1], TYPES[i].name) != 0) continue;
        size_t bs = ggml_blck_size(TYPES[i].type), ts = ggml_type_size(TYPES[i].type);
        if (n <= 0 || n % (long)bs != 0) {
            fprintf(stderr, "N must be a positive multiple of %zu\n", bs);
            return 2;
        }
        float *x = malloc(n * sizeof(float));
        unsigned char *y = malloc(n / bs * ts);
        FILE *in = fopen(argv[3], "rb");
        if (!x || !y || !in || fread(x, sizeof(float), n, in) != (size_t)n) {
            fprintf(stderr, "cannot read %ld floats from %s\n", n, argv[3]);
            return 1;
        }
        fclose(in);
        TYPES[i].fn(x, y, n);
        FILE *out = fopen(argv[4], "wb");
        if (!out || fwrite(y, 1, n / bs * ts, out) != n / bs * ts || fclose(out) != 0) {
            fprintf(stderr, "cannot write %s\n", argv[4]);
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "unknown type %s\n", argv[1]);
    return 2;
}
