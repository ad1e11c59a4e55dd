// llama.cpp's detokenizer on a vocab-only GGUF: what llama_detokenize returns for given token
// ids, called exactly as common_detokenize calls it (remove_special = false; a first call into a
// buffer of max(capacity, n_tokens) bytes, then, if the text is longer, a second call into a
// buffer of its length), once with unparse_special = false and once with true.
//
// usage: llama-detokenize VOCAB.gguf --tokens
//          one line per token: "ID ATTR PIECE_HEX", ATTR being llama_vocab_get_attr's bits and
//          PIECE_HEX llama_token_to_piece(special = true, lstrip = 0) in lowercase hex; then
//          a last line "n_tokens N type T bos B eos E add_bos 0|1 add_eos 0|1"
//        llama-detokenize VOCAB.gguf CASES.txt
//          CASES.txt holds one case per line, its token ids separated by spaces (an empty line is
//          the empty sequence); prints one line per case: "PLAIN_HEX SPECIAL_HEX", the bytes
//          with unparse_special false and true in lowercase hex ("-" for no bytes).
// The text is printed as hex because it need not be valid UTF-8 (a byte token, or a byte-level
// BPE piece that splits a character).
#include "llama.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

static int fail(const std::string & msg) {
    fprintf(stderr, "llama-detokenize: %s\n", msg.c_str());
    return 1;
}

static std::string hex(const std::string & bytes) {
    if (bytes.empty()) {
        return "-";
    }
    static const char * digits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// common_detokenize (common/common.cpp), verbatim but for the vocabulary argument.
static std::string detokenize(const llama_vocab * vocab, const std::vector<llama_token> & tokens,
                              bool special) {
    std::string text;
    text.resize(std::max(text.capacity(), tokens.size()));
    int32_t n_chars = llama_detokenize(vocab, tokens.data(), (int32_t) tokens.size(), &text[0],
                                       (int32_t) text.size(), false, special);
    if (n_chars < 0) {
        text.resize(-n_chars);
        n_chars = llama_detokenize(vocab, tokens.data(), (int32_t) tokens.size(), &text[0],
                                   (int32_t) text.size(), false, special);
        if (n_chars > (int32_t) text.size()) {
            fprintf(stderr, "llama-detokenize: second call needs %d bytes\n", n_chars);
            exit(1);
        }
    }
    text.resize(n_chars);
    return text;
}

static std::string piece(const llama_vocab * vocab, llama_token id) {
    std::vector<char> buf(64);
    int32_t n = llama_token_to_piece(vocab, id, buf.data(), (int32_t) buf.size(), 0, true);
    if (n < 0) {
        buf.resize(-n);
        n = llama_token_to_piece(vocab, id, buf.data(), (int32_t) buf.size(), 0, true);
    }
    return std::string(buf.data(), std::max(n, 0));
}

int main(int argc, char ** argv) {
    if (argc != 3) {
        return fail("usage: llama-detokenize VOCAB.gguf (--tokens | CASES.txt)");
    }
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    llama_backend_init();
    llama_model_params params = llama_model_default_params();
    params.vocab_only = true;
    llama_model * model = llama_model_load_from_file(argv[1], params);
    if (!model) {
        return fail(std::string("cannot load ") + argv[1]);
    }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int32_t n_tokens = llama_vocab_n_tokens(vocab);
    if (std::string(argv[2]) == "--tokens") {
        for (llama_token id = 0; id < n_tokens; ++id) {
            printf("%d %d %s\n", id, (int) llama_vocab_get_attr(vocab, id),
                   hex(piece(vocab, id)).c_str());
        }
        printf("n_tokens %d type %d bos %d eos %d add_bos %d add_eos %d\n", n_tokens,
               (int) llama_vocab_type(vocab), llama_vocab_bos(vocab), llama_vocab_eos(vocab),
               (int) llama_vocab_get_add_bos(vocab), (int) llama_vocab_get_add_eos(vocab));
    } else {
        std::ifstream in(argv[2]);
        if (!in) {
            return fail(std::string("cannot open ") + argv[2]);
        }
        std::string line;
        while (std::getline(in, line)) {
            std::vector<llama_token> tokens;
            std::stringstream ss(line);
            long long id;
            while (ss >> id) {
                if (id < 0 || id >= n_tokens) {
                    return fail("token id " + std::to_string(id) + " outside the vocabulary");
                }
                tokens.push_back((llama_token) id);
            }
            printf("%s %s\n", hex(detokenize(vocab, tokens, false)).c_str(),
                   hex(detokenize(vocab, tokens, true)).c_str());
        }
    }
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
