/* Chat template families: recognition from the Jinja text and formatting. See chat_template.h. */
#include "chat_template.h"

#include <stdlib.h>
#include <string.h>

/* ================================================================ names */

static const char *const NAMES[QS_TMPL_COUNT] = {
    [QS_TMPL_NONE] = "none",
    [QS_TMPL_CHATML] = "chatml",
    [QS_TMPL_LLAMA3] = "llama3",
    [QS_TMPL_LLAMA2] = "llama2",
    [QS_TMPL_LLAMA2_SYS] = "llama2-sys",
    [QS_TMPL_LLAMA2_SYS_BOS] = "llama2-sys-bos",
    [QS_TMPL_LLAMA2_SYS_STRIP] = "llama2-sys-strip",
    [QS_TMPL_MISTRAL_V1] = "mistral-v1",
    [QS_TMPL_MISTRAL_V3] = "mistral-v3",
    [QS_TMPL_MISTRAL_V3_TEKKEN] = "mistral-v3-tekken",
    [QS_TMPL_MISTRAL_V7] = "mistral-v7",
    [QS_TMPL_MISTRAL_V7_TEKKEN] = "mistral-v7-tekken",
    [QS_TMPL_ZEPHYR] = "zephyr",
    [QS_TMPL_GEMMA] = "gemma",
    [QS_TMPL_PHI3] = "phi3",
};

const char *qs_chat_tmpl_name(qs_chat_tmpl t) {
    return t >= 0 && t < QS_TMPL_COUNT ? NAMES[t] : "unknown";
}

const char *qs_chat_tmpl_all_names(void) {
    return "none, chatml, llama3, llama2, llama2-sys, llama2-sys-bos, llama2-sys-strip, "
           "mistral-v1, mistral-v3, mistral-v3-tekken, mistral-v7, mistral-v7-tekken, zephyr, "
           "gemma, phi3";
}

qs_chat_tmpl qs_chat_tmpl_from_name(const char *name) {
    if (!name) return QS_TMPL_UNKNOWN;
    for (int t = 0; t < QS_TMPL_COUNT; t++)
        if (strcmp(name, NAMES[t]) == 0) return (qs_chat_tmpl)t;
    return QS_TMPL_UNKNOWN;
}

/* ================================================================ detection */

static bool has(const char *s, const char *marker) { return strstr(s, marker) != NULL; }

qs_chat_tmpl qs_chat_tmpl_detect(const char *j) {
    if (!j || !*j) return QS_TMPL_NONE;
    const qs_chat_tmpl named = qs_chat_tmpl_from_name(j);
    if (named != QS_TMPL_UNKNOWN) return named;

    /* The order matters: several families share markers, and the first test that matches
     * decides (the same order llama.cpp uses, so a template means the same thing in both). */
    if (has(j, "<|im_start|>")) {
        if (has(j, "<|im_sep|>")) return QS_TMPL_UNKNOWN;         /* Phi-4 */
        if (has(j, "<end_of_utterance>")) return QS_TMPL_UNKNOWN; /* SmolVLM: not ChatML */
        return QS_TMPL_CHATML;
    }
    if (strncmp(j, "mistral", 7) == 0 || has(j, "[INST]")) {
        if (has(j, "[SYSTEM_PROMPT]")) return QS_TMPL_MISTRAL_V7;
        /* Mistral's official v1 / v3 / v3-tekken templates */
        if (has(j, "' [INST] ' + system_message") || has(j, "[AVAILABLE_TOOLS]")) {
            if (has(j, " [INST]")) return QS_TMPL_MISTRAL_V1;
            if (has(j, "\"[INST]\"")) return QS_TMPL_MISTRAL_V3_TEKKEN;
            return QS_TMPL_MISTRAL_V3;
        }
        /* Llama 2 and the templates modelled on it */
        if (has(j, "content.strip()")) return QS_TMPL_LLAMA2_SYS_STRIP;
        if (has(j, "bos_token + '[INST]")) return QS_TMPL_LLAMA2_SYS_BOS;
        if (has(j, "<<SYS>>")) return QS_TMPL_LLAMA2_SYS;
        return QS_TMPL_LLAMA2;
    }
    if (has(j, "<|assistant|>") && has(j, "<|end|>")) return QS_TMPL_PHI3;
    if (has(j, "[gMASK]<sop>")) return QS_TMPL_UNKNOWN; /* ChatGLM 4 */
    /* Zephyr as published (HuggingFaceH4/zephyr-7b-beta): role tags closed by eos_token.
     * llama.cpp reaches the next test first and formats it as GLM-Edge, which has no end
     * marker; we keep Zephyr's. */
    if (has(j, "<|user|>") && has(j, "<|assistant|>") && has(j, "<|system|>") &&
        has(j, "eos_token") && !has(j, "</s>") && !has(j, "<|tool_declare|>"))
        return QS_TMPL_ZEPHYR;
    if (has(j, "<|assistant|>") && has(j, "<|user|>")) return QS_TMPL_UNKNOWN; /* Falcon 3, GLM-Edge, EXAONE */
    if (has(j, "<|{{ item['role'] }}|>") && has(j, "<|begin_of_image|>")) return QS_TMPL_UNKNOWN;
    if (has(j, "<|user|>") && has(j, "<|endoftext|>")) return QS_TMPL_ZEPHYR;
    if (has(j, "bos_token + message['role']")) return QS_TMPL_UNKNOWN; /* AlphaMonarch */
    if (has(j, "<start_of_turn>")) return QS_TMPL_GEMMA;
    /* families llama.cpp tests before Llama 3: Orion, OpenChat, Vicuna, DeepSeek Coder, Command R */
    if (has(j, "'\\n\\nAssistant: ' + eos_token") || has(j, "GPT4 Correct ") ||
        (has(j, "USER: ") && has(j, "ASSISTANT: ")) ||
        (has(j, "### Instruction:") && has(j, "<|EOT|>")) ||
        (has(j, "<|START_OF_TURN_TOKEN|>") && has(j, "<|USER_TOKEN|>")))
        return QS_TMPL_UNKNOWN;
    if (has(j, "<|start_header_id|>") && has(j, "<|end_header_id|>")) return QS_TMPL_LLAMA3;
    return QS_TMPL_UNKNOWN;
}

qs_chat_tmpl qs_chat_tmpl_of_model(const gguf_file *f) {
    gguf_str v;
    if (!f || gguf_get_str(f, "tokenizer.chat_template", &v) != QS_OK || v.len == 0) return QS_TMPL_NONE;
    char *j = malloc(v.len + 1);
    if (!j) return QS_TMPL_UNKNOWN;
    memcpy(j, v.ptr, v.len);
    j[v.len] = 0;
    const qs_chat_tmpl t = qs_chat_tmpl_detect(j);
    free(j);
    return t;
}

/* ================================================================ formatting */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t len) {
    if (b->oom) return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + len + 1 > cap) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

/* llama.cpp trims with isspace() in the C locale */
static bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

static void put_trimmed(sbuf *b, const char *s) {
    size_t n = strlen(s), a = 0;
    while (a < n && space(s[a])) a++;
    while (n > a && space(s[n - 1])) n--;
    put(b, s + a, n - a);
}

static void put_content(sbuf *b, const char *s, bool trim) {
    if (trim) put_trimmed(b, s);
    else puts_(b, s);
}

static bool is_role(const qs_chat_msg *m, const char *r) { return strcmp(m->role, r) == 0; }

static void fmt_llama2(sbuf *b, qs_chat_tmpl t, const qs_chat_msg *m, size_t n) {
    const bool sys_block = t != QS_TMPL_LLAMA2;
    const bool bos_inside = t == QS_TMPL_LLAMA2_SYS_BOS;
    const bool strip = t == QS_TMPL_LLAMA2_SYS_STRIP;
    bool in_turn = true; /* the first [INST] is written before the loop (no BOS: the tokenizer adds it) */
    puts_(b, "[INST] ");
    for (size_t i = 0; i < n; i++) {
        if (!in_turn) {
            puts_(b, bos_inside ? "<s>[INST] " : "[INST] ");
            in_turn = true;
        }
        if (is_role(&m[i], "system")) {
            if (sys_block) {
                puts_(b, "<<SYS>>\n");
                put_content(b, m[i].content, strip);
                puts_(b, "\n<</SYS>>\n\n");
            } else {
                put_content(b, m[i].content, strip);
                puts_(b, "\n");
            }
        } else if (is_role(&m[i], "user")) {
            put_content(b, m[i].content, strip);
            puts_(b, " [/INST]");
        } else {
            put_content(b, m[i].content, strip);
            puts_(b, "</s>");
            in_turn = false;
        }
    }
}

static void fmt_mistral(sbuf *b, qs_chat_tmpl t, const qs_chat_msg *m, size_t n) {
    const char *lead = t == QS_TMPL_MISTRAL_V1 ? " " : "";
    const char *trail = t == QS_TMPL_MISTRAL_V3_TEKKEN ? "" : " ";
    const bool trim_reply = t == QS_TMPL_MISTRAL_V3;
    bool in_turn = false;
    for (size_t i = 0; i < n; i++) {
        if (!in_turn) {
            puts_(b, lead);
            puts_(b, "[INST]");
            puts_(b, trail);
            in_turn = true;
        }
        if (is_role(&m[i], "system")) {
            puts_(b, m[i].content);
            puts_(b, "\n\n");
        } else if (is_role(&m[i], "user")) {
            puts_(b, m[i].content);
            puts_(b, lead);
            puts_(b, "[/INST]");
        } else {
            puts_(b, trail);
            put_content(b, m[i].content, trim_reply);
            puts_(b, "</s>");
            in_turn = false;
        }
    }
}

static void fmt_mistral_v7(sbuf *b, qs_chat_tmpl t, const qs_chat_msg *m, size_t n) {
    const char *sp = t == QS_TMPL_MISTRAL_V7 ? " " : "";
    for (size_t i = 0; i < n; i++) {
        if (is_role(&m[i], "system")) {
            puts_(b, "[SYSTEM_PROMPT]");
            puts_(b, sp);
            puts_(b, m[i].content);
            puts_(b, "[/SYSTEM_PROMPT]");
        } else if (is_role(&m[i], "user")) {
            puts_(b, "[INST]");
            puts_(b, sp);
            puts_(b, m[i].content);
            puts_(b, "[/INST]");
        } else {
            puts_(b, sp);
            puts_(b, m[i].content);
            puts_(b, "</s>");
        }
    }
}

static void fmt_gemma(sbuf *b, const qs_chat_msg *m, size_t n, bool add_ass) {
    /* Gemma has no system role: the (trimmed) system text opens the next user turn */
    sbuf sys = {0};
    for (size_t i = 0; i < n; i++) {
        if (is_role(&m[i], "system")) {
            put_trimmed(&sys, m[i].content);
            continue;
        }
        const char *role = is_role(&m[i], "assistant") ? "model" : m[i].role;
        puts_(b, "<start_of_turn>");
        puts_(b, role);
        puts_(b, "\n");
        if (sys.n > 0 && strcmp(role, "model") != 0) {
            put(b, sys.p, sys.n);
            puts_(b, "\n\n");
            sys.n = 0;
        }
        put_trimmed(b, m[i].content);
        puts_(b, "<end_of_turn>\n");
    }
    if (sys.oom) b->oom = true;
    free(sys.p);
    if (add_ass) puts_(b, "<start_of_turn>model\n");
}

/* Families of the form OPEN(role) content CLOSE, with an assistant header on add_ass. */
static void fmt_tagged(sbuf *b, qs_chat_tmpl t, const qs_chat_msg *m, size_t n, bool add_ass,
                       const char *eos_text) {
    for (size_t i = 0; i < n; i++) {
        switch (t) {
        case QS_TMPL_CHATML:
            puts_(b, "<|im_start|>");
            puts_(b, m[i].role);
            puts_(b, "\n");
            puts_(b, m[i].content);
            puts_(b, "<|im_end|>\n");
            break;
        case QS_TMPL_LLAMA3:
            puts_(b, "<|start_header_id|>");
            puts_(b, m[i].role);
            puts_(b, "<|end_header_id|>\n\n");
            put_trimmed(b, m[i].content);
            puts_(b, "<|eot_id|>");
            break;
        case QS_TMPL_ZEPHYR:
            puts_(b, "<|");
            puts_(b, m[i].role);
            puts_(b, "|>\n");
            puts_(b, m[i].content);
            puts_(b, eos_text);
            puts_(b, "\n");
            break;
        case QS_TMPL_PHI3:
            puts_(b, "<|");
            puts_(b, m[i].role);
            puts_(b, "|>\n");
            puts_(b, m[i].content);
            puts_(b, "<|end|>\n");
            break;
        default: break;
        }
    }
    if (!add_ass) return;
    switch (t) {
    case QS_TMPL_CHATML: puts_(b, "<|im_start|>assistant\n"); break;
    case QS_TMPL_LLAMA3: puts_(b, "<|start_header_id|>assistant<|end_header_id|>\n\n"); break;
    case QS_TMPL_ZEPHYR:
    case QS_TMPL_PHI3: puts_(b, "<|assistant|>\n"); break;
    default: break;
    }
}

int qs_chat_tmpl_format(qs_chat_tmpl t, const qs_chat_msg *msgs, size_t n, bool add_ass,
                        const char *eos_text, char **out, size_t *len, qs_error *err) {
    *out = NULL;
    if (len) *len = 0;
    if (t < 0 || t >= QS_TMPL_COUNT)
        return qs_error_set(err, "chat template: unknown family (known: %s)", qs_chat_tmpl_all_names());
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content)
            return qs_error_set(err, "chat template: message %zu has no role or no text", i);
    if (!eos_text) eos_text = "<|endoftext|>";
    sbuf b = {0};
    put(&b, "", 0); /* an empty result is still a string */
    switch (t) {
    case QS_TMPL_NONE:
        for (size_t i = 0; i < n; i++) puts_(&b, msgs[i].content);
        break;
    case QS_TMPL_LLAMA2:
    case QS_TMPL_LLAMA2_SYS:
    case QS_TMPL_LLAMA2_SYS_BOS:
    case QS_TMPL_LLAMA2_SYS_STRIP: fmt_llama2(&b, t, msgs, n); break;
    case QS_TMPL_MISTRAL_V1:
    case QS_TMPL_MISTRAL_V3:
    case QS_TMPL_MISTRAL_V3_TEKKEN: fmt_mistral(&b, t, msgs, n); break;
    case QS_TMPL_MISTRAL_V7:
    case QS_TMPL_MISTRAL_V7_TEKKEN: fmt_mistral_v7(&b, t, msgs, n); break;
    case QS_TMPL_GEMMA: fmt_gemma(&b, msgs, n, add_ass); break;
    default: fmt_tagged(&b, t, msgs, n, add_ass, eos_text); break;
    }
    if (b.oom) {
        free(b.p);
        qs_error_set(err, "chat template: out of memory");
        return QS_ENOMEM;
    }
    *out = b.p;
    if (len) *len = b.n;
    return QS_OK;
}

int qs_chat_tmpl_end_of_turn(qs_chat_tmpl t, const char *eos_text, const char *out[4]) {
    int n = 0;
    switch (t) {
    case QS_TMPL_CHATML: out[n++] = "<|im_end|>"; break;
    case QS_TMPL_LLAMA3:
        out[n++] = "<|eot_id|>";
        out[n++] = "<|eom_id|>";
        break;
    case QS_TMPL_LLAMA2:
    case QS_TMPL_LLAMA2_SYS:
    case QS_TMPL_LLAMA2_SYS_BOS:
    case QS_TMPL_LLAMA2_SYS_STRIP:
    case QS_TMPL_MISTRAL_V1:
    case QS_TMPL_MISTRAL_V3:
    case QS_TMPL_MISTRAL_V3_TEKKEN:
    case QS_TMPL_MISTRAL_V7:
    case QS_TMPL_MISTRAL_V7_TEKKEN: out[n++] = "</s>"; break;
    case QS_TMPL_ZEPHYR: out[n++] = eos_text ? eos_text : "<|endoftext|>"; break;
    case QS_TMPL_GEMMA: out[n++] = "<end_of_turn>"; break;
    case QS_TMPL_PHI3:
        out[n++] = "<|end|>";
        out[n++] = "<|endoftext|>";
        break;
    default: break;
    }
    return n;
}

bool qs_chat_tmpl_system_is_separate(qs_chat_tmpl t) {
    switch (t) {
    case QS_TMPL_NONE:
    case QS_TMPL_CHATML:
    case QS_TMPL_LLAMA3:
    case QS_TMPL_MISTRAL_V7:
    case QS_TMPL_MISTRAL_V7_TEKKEN:
    case QS_TMPL_ZEPHYR:
    case QS_TMPL_PHI3: return true;
    default: return false;
    }
}
