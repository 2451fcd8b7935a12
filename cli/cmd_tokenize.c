/* quantscope tokenize MODEL [--ids] ...: text from stdin to token ids, with the model's own
 * tokenizer (the same ids llama.cpp's llama-tokenize prints). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gguf.h"
#include "tokenizer.h"

const char cmd_tokenize_usage[] =
    "usage: quantscope tokenize MODEL.gguf [--ids | --json] [-p TEXT] [options]\n\n"
    "Reads text from standard input (all of it, byte for byte: a final newline is a token\n"
    "too) and prints its tokens, one per line: the id and the text the token stands for,\n"
    "with \\n, \\t, \\\\, \\' and other control or invalid bytes escaped. The ids are those\n"
    "llama.cpp's llama-tokenize gives for the same file.\n\n"
    "  --ids               only the ids, as a list: [1, 15043, 3186]\n"
    "  --json              one JSON object: tokenizer facts and every token's id, type,\n"
    "                      vocabulary text and bytes\n"
    "  -p, --prompt TEXT   tokenize TEXT instead of standard input\n"
    "  --no-special        do not add the BOS / EOS tokens the model asks for\n"
    "  --no-parse-special  treat control-token text such as <|eot_id|> as plain text\n"
    "                      (default: it becomes the control token, as in llama-tokenize)\n"
    "  --count             also print the number of tokens\n";

static int fail(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "quantscope tokenize: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return CLI_FAIL;
}

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "quantscope tokenize: %s%s\n", msg, arg ? arg : "");
    fprintf(stderr, "Run 'quantscope tokenize --help' for the options.\n");
    return CLI_USAGE;
}

/* All of stdin; NULL on a read error. */
static char *read_all(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    if (!b) return NULL;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f)) {
        free(b);
        return NULL;
    }
    *len = n;
    return b;
}

/* Prints bytes for a terminal: printable UTF-8 as is, the rest escaped. */
static void print_escaped(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", stdout), i++;
        else if (c == '\t') fputs("\\t", stdout), i++;
        else if (c == '\r') fputs("\\r", stdout), i++;
        else if (c == '\\') fputs("\\\\", stdout), i++;
        else if (c == '\'') fputs("\\'", stdout), i++;
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c), i++;
        else if (c < 0x80) putchar(c), i++;
        else {
            size_t l = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
            if (l > 1 && l <= n - i && qs_utf8_valid(s + i, l)) {
                fwrite(s + i, 1, l, stdout);
                i += l;
            } else {
                printf("\\x%02x", c);
                i++;
            }
        }
    }
}

static json_t *json_bytes_text(const char *s, size_t n) {
    if (qs_utf8_valid(s, n)) return json_stringn(s, n);
    /* replace what is not UTF-8 so the JSON stays valid; "bytes" has the exact value */
    char *buf = malloc(n * 3 + 1);
    if (!buf) return json_null();
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = 1;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0xc0) l = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (l <= n - i && qs_utf8_valid(s + i, l)) {
            memcpy(buf + o, s + i, l);
            o += l, i += l;
        } else {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3, i++;
        }
    }
    json_t *j = json_stringn(buf, o);
    free(buf);
    return j;
}

static json_t *json_hex(const char *s, size_t n) {
    char *buf = malloc(n * 2 + 1);
    if (!buf) return json_null();
    for (size_t i = 0; i < n; i++) sprintf(buf + 2 * i, "%02x", (unsigned char)s[i]);
    buf[2 * n] = 0;
    json_t *j = json_string(buf);
    free(buf);
    return j;
}

static json_t *id_or_null(int32_t id) { return id >= 0 ? json_integer(id) : json_null(); }

static json_t *tokens_json(const char *path, const qs_tokenizer *tok, const int32_t *ids, size_t n) {
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "tokenizer", json_string(qs_tok_model_name(tok)));
    json_object_set_new(o, "pre", json_string(qs_tok_pre_name(tok)));
    json_object_set_new(o, "n_vocab", json_integer(qs_tok_n_vocab(tok)));
    json_object_set_new(o, "n_merges", json_integer(qs_tok_n_merges(tok)));
    json_object_set_new(o, "bos", id_or_null(qs_tok_bos(tok)));
    json_object_set_new(o, "eos", id_or_null(qs_tok_eos(tok)));
    json_object_set_new(o, "eot", id_or_null(qs_tok_eot(tok)));
    json_object_set_new(o, "add_bos", json_boolean(qs_tok_add_bos(tok)));
    json_object_set_new(o, "add_eos", json_boolean(qs_tok_add_eos(tok)));
    json_object_set_new(o, "n_tokens", json_integer((json_int_t)n));
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_object();
        size_t pl, tl;
        const char *piece = qs_tok_bytes(tok, ids[i], true, &pl);
        const char *text = qs_tok_piece(tok, ids[i], &tl);
        json_object_set_new(t, "id", json_integer(ids[i]));
        json_object_set_new(t, "type", json_string(qs_token_type_name(qs_tok_token_type(tok, ids[i]))));
        json_object_set_new(t, "text", json_bytes_text(text ? text : "", tl));
        json_object_set_new(t, "piece", json_bytes_text(piece, pl));
        json_object_set_new(t, "bytes", json_hex(piece, pl));
        json_array_append_new(a, t);
    }
    json_object_set_new(o, "tokens", a);
    return o;
}

int cmd_tokenize(int argc, char **argv) {
    enum { OPT_IDS = 256, OPT_JSON, OPT_NO_SPECIAL, OPT_NO_PARSE, OPT_COUNT };
    static const struct option opts[] = {
        {"ids", no_argument, NULL, OPT_IDS},
        {"json", no_argument, NULL, OPT_JSON},
        {"prompt", required_argument, NULL, 'p'},
        {"no-special", no_argument, NULL, OPT_NO_SPECIAL},
        {"no-parse-special", no_argument, NULL, OPT_NO_PARSE},
        {"count", no_argument, NULL, OPT_COUNT},
        {NULL, 0, NULL, 0},
    };
    bool ids_only = false, json = false, add_special = true, parse_special = true, count = false;
    const char *prompt = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":p:", opts, NULL)) != -1) {
        switch (c) {
        case OPT_IDS: ids_only = true; break;
        case OPT_JSON: json = true; break;
        case 'p': prompt = optarg; break;
        case OPT_NO_SPECIAL: add_special = false; break;
        case OPT_NO_PARSE: parse_special = false; break;
        case OPT_COUNT: count = true; break;
        case ':': return usage_error("missing value for ", argv[optind - 1]);
        default: return usage_error("unknown option ", argv[optind - 1]);
        }
    }
    if (optind >= argc) return usage_error("missing MODEL.gguf", NULL);
    if (optind + 1 < argc) return usage_error("unexpected argument ", argv[optind + 1]);
    if (ids_only && json) return usage_error("--ids and --json cannot be combined", NULL);
    const char *path = argv[optind];

    qs_error err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    if (!f) return fail("%s%s", err.msg, "");
    qs_tokenizer *tok = qs_tok_load(f, &err);
    gguf_close(f);
    if (!tok) return fail("%s: %s", path, err.msg);

    char *text;
    size_t len;
    if (prompt) {
        len = strlen(prompt);
        text = malloc(len + 1);
        if (text) memcpy(text, prompt, len + 1);
    } else {
        text = read_all(stdin, &len);
    }
    if (!text) {
        qs_tok_free(tok);
        return fail("%s%s", prompt ? "out of memory" : "cannot read standard input", "");
    }

    int32_t *ids = NULL;
    size_t n = 0;
    int rc = qs_tok_encode(tok, text, len, add_special, parse_special, &ids, &n, &err);
    free(text);
    if (rc != QS_OK) {
        qs_tok_free(tok);
        return fail("%s: %s", path, err.msg);
    }

    if (json) {
        json_t *o = tokens_json(path, tok, ids, n);
        char *s = json_dumps(o, JSON_COMPACT);
        if (s) puts(s);
        free(s);
        json_decref(o);
    } else if (ids_only) {
        putchar('[');
        for (size_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
        puts("]");
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t pl;
            const char *piece = qs_tok_bytes(tok, ids[i], true, &pl);
            printf("%6d -> '", ids[i]);
            print_escaped(piece, pl);
            puts("'");
        }
    }
    if (count && !json) printf("Total number of tokens: %zu\n", n);
    free(ids);
    qs_tok_free(tok);
    return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}
