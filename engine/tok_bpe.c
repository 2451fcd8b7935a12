/* tok_bpe.c — byte-level BPE: pre-tokenizer regexes (PCRE2) and merging by rank.
 *
 * A text fragment is first cut into words. tokenizer.ggml.pre names a list of regexes; each in
 * turn cuts every current piece into its matches and the gaps between them (HF's "Isolated"
 * split), so later regexes only see the pieces earlier ones made. Each word's bytes are then
 * written in GPT-2's printable alphabet (one character per byte) and merged: of all neighbouring
 * pairs listed in tokenizer.ggml.merges the lowest-ranked merges first, ties leftmost.
 *
 * The regex table mirrors the adapted expressions llama.cpp uses (which is what produced the
 * test vectors), and the patterns are adjusted before compilation so that PCRE2 gives
 * llama.cpp's results where plain PCRE semantics would differ (see adapt_pattern()). */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ the pre-tokenizer table */

enum {
    PRE_IGNORE_MERGES = 1u << 0, /* a whole word that is a token is used as is */
    PRE_ADD_BOS = 1u << 1,       /* add BOS unless the file says otherwise */
    PRE_NO_CLEAN = 1u << 2,      /* no clean-up of spaces when detokenizing */
    PRE_NO_BOS_ID = 1u << 3,     /* the family has no BOS token by default */
    PRE_ADD_SEP = 1u << 4,
    PRE_ESCAPE_WS = 1u << 5,     /* SPM-style BPE: spaces are U+2581 */
    PRE_RAW_UTF8 = 1u << 6,      /* no GPT-2 byte alphabet; byte fallback is <0xXX> */
    PRE_NL_RUNS = 1u << 7,       /* a run of newlines that is a token is used as is (Gemma 4) */
    PRE_FORCE_BOS = 1u << 8,     /* BOS even if the file says no (Gemma 4) */
};

/* The special name that selects llama.cpp's digit-grouping splitter instead of a regex. */
#define DIGITS3 "\x01digits3"

#define CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"

/* GPT-2: 's|'t|... then letters, numbers, other, trailing whitespace */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_LLAMA3                                                                                         \
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|" \
                 "\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                                      \
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|" \
                 "\\s+(?!\\S)|\\s+"
#define RE_HAN_KANA "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+"
#define RE_DEEPSEEK_CJK "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
#define RE_DEEPSEEK3                                                                                    \
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|" \
    " ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_PORO " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"
#define RE_CASED_WORDS(M)                                                                          \
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}" M "])([^a-z]))*((?=[\\p{L}" M "])([^A-Z]))+" CONTRACTIONS  \
    "?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}" M "])([^a-z]))+((?=[\\p{L}" M "])([^A-Z]))*" CONTRACTIONS \
    "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_UPPER "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]"
#define RE_LOWER "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
#define RE_LU_LL(N)                                                                                \
    "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+" CONTRACTIONS "?|[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER \
    "+" RE_LOWER "*" CONTRACTIONS "?|" N "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

typedef struct pre_def {
    const char *names; /* '|'-separated values of tokenizer.ggml.pre */
    unsigned flags;
    const char *re[TOK_MAX_REGEX]; /* NULL-terminated */
} pre_def;

static const pre_def k_pre[] = {
    {"default", 0, {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
    {"llama3|llama-v3|llama-bpe|falcon3|falcon-h1|pixtral|midm-2.0|lfm2|jina-v5-nano",
     PRE_IGNORE_MERGES | PRE_ADD_BOS, {RE_LLAMA3}},
    {"dbrx|smaug-bpe", 0, {RE_LLAMA3}},
    {"jais-2", 0,
     {CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
                   "\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|"
                   "\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}"}},
    {"deepseek-llm", PRE_NO_CLEAN,
     {"[\\r\\n]",
      "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}"
      "\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}"
      "\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}"
      "\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}"
      "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"
      "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}"
      "\\x{1F5F}-\\x{1F7D}"
      "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}"
      "\\x{1FD0}-\\x{1FD3}"
      "\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
      "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}"
      "\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"
      "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}"
      "\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}"
      "\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"
      "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}"
      "\\x{118A0}-\\x{118DF}"
      "\\x{1E900}-\\x{1E943}]+",
      "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+", "\\s+$",
      RE_DEEPSEEK_CJK, "\\p{N}+"}},
    {"deepseek-coder", PRE_NO_CLEAN, {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_DEEPSEEK_CJK, "\\p{N}"}},
    {"deepseek-v3|hunyuan-dense|joyai-llm", PRE_NO_CLEAN, {"\\p{N}{1,3}", RE_HAN_KANA, RE_DEEPSEEK3}},
    {"youtu", PRE_NO_CLEAN | PRE_IGNORE_MERGES,
     {"[\\x{AC00}-\\x{D7A3}\\x{3131}-\\x{318E}]+|[\\x{FF01}\\x{2026}\\x{201C}\\x{201D}\\x{2018}\\x{2019}"
      "\\x{2014}\\x{FF1A}\\x{FF1B}\\x{FF0C}\\x{3001}-\\x{303F}\\x{FE30}-\\x{FE4F}]+|[\\x{3105}-\\x{312F}]+|"
      RE_HAN_KANA,
      RE_LU_LL("\\p{N}")}},
    {"falcon", 0, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}},
    {"starcoder|refact|codeshell|exaone|minerva-7b|mellum2", 0, {"\\p{N}", RE_GPT2}},
    {"command-r|smollm", PRE_NO_CLEAN, {"\\p{N}", RE_GPT2}},
    {"gpt-2|phi-2|jina-es|jina-de|gigachat|jina-v2-es|jina-v2-de|a.x-4.0|mellum|modern-bert|exaone4|mpt|olmo|"
     "jais",
     0, {RE_GPT2}},
    {"jina-v1-en|jina-v2-code|roberta-bpe", PRE_ADD_SEP, {RE_GPT2}},
    {"trillion|granite-docling", PRE_NO_CLEAN, {RE_GPT2}},
    {"qwen2|deepseek-r1-qwen|kormo|f2llmv2|hunyuan|solar-open|grok-2", PRE_NO_CLEAN, {RE_QWEN2}},
    {"stablelm2|megrez", 0, {RE_QWEN2}},
    {"qwen35", PRE_NO_CLEAN,
     {CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|"
                   "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"poro-chat", PRE_NO_CLEAN, {RE_PORO}},
    {"bloom|gpt3-finnish", 0, {RE_PORO}},
    {"glm4|chatglm-bpe", PRE_NO_BOS_ID, {RE_LLAMA3}},
    {"viking", PRE_NO_CLEAN, {RE_PORO, "\\p{N}"}},
    {"tekken", PRE_NO_CLEAN | PRE_IGNORE_MERGES | PRE_ADD_BOS,
     {"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?"
      "((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|"
      "\\s+(?!\\S)|\\s+"}},
    {"chameleon", PRE_ADD_BOS | PRE_NO_CLEAN,
     {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}",
      "[\\p{P}!-/:-@\\[-`{-~]", RE_GPT2}},
    {"gpt-4o|llama4|kanana2|talkie|minimax-m2", PRE_NO_CLEAN, {RE_CASED_WORDS("")}},
    {"granite-embed-multi-97m", PRE_NO_CLEAN | PRE_IGNORE_MERGES, {RE_CASED_WORDS("\\p{M}")}},
    {"tiny_aya|cohere2moe", PRE_NO_CLEAN, {DIGITS3, RE_LU_LL("\\p{N}{1,3}")}},
    {"superbpe", PRE_NO_CLEAN, {"\\p{N}+", "(?=(\\d{3})+(?!\\d))"}},
    {"bailingmoe|bailingmoe2|llada-moe", PRE_NO_CLEAN,
     {"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
      "[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"}},
    {"seed-coder", PRE_NO_CLEAN,
     {CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|"
                   "\\s+(?!\\S)|\\s+"}},
    {"afmoe", PRE_NO_CLEAN,
     {DIGITS3,
      "[\\x{4E00}-\\x{9FFF}\\x{3400}-\\x{4DBF}\\x{8C48}-\\x{FAFF}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}"
      "\\x{FF65}-\\x{FF9F}\\x{2F00}-\\x{2FDF}\\x{E40}-\\x{E7F}\\x{E80}-\\x{EFF}\\x{1780}-\\x{17FF}"
      "\\x{1000}-\\x{109F}\\x{AA60}-\\x{AA7F}\\x{A9E0}-\\x{A9FF}\\x{AC00}-\\x{D7AF}\\x{1100}-\\x{11FF}]+",
      RE_DEEPSEEK3}},
    {"laguna", PRE_NO_CLEAN, {"[^\\n]+|[\\n]+", RE_QWEN2}},
    {"exaone-moe", 0,
     {CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
                   "[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"}},
    {"minicpm5", PRE_IGNORE_MERGES,
     {"\\p{N}{1,3}", CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                                  "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"gemma4|granite-embed-multi-311m", PRE_ESCAPE_WS | PRE_RAW_UTF8 | PRE_NL_RUNS | PRE_FORCE_BOS,
     {"[^\\n]+|[\\n]+"}},
    {"sarvam-moe", PRE_ESCAPE_WS | PRE_RAW_UTF8 | PRE_NO_CLEAN, {"[^\\n]+|[\\n]+"}},
};

static bool name_in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, '|');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !memcmp(p, name, n)) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

/* ================================================================ pattern adaptation */

/* White_Space (PropList.txt): what llama.cpp and HF's Rust / Python regex mean by \s. PCRE2
 * 10.42's \s under UCP leaves out U+0085, so \s is spelled out. */
#define WS_NONASCII "\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
#define WS_MEMBERS "\\t-\\r " WS_NONASCII

/* Code points that llama.cpp's Unicode tables (Unicode 15.1) put in a category and PCRE2 10.42
 * (Unicode 14.0) does not know yet; appended to \p{N} \p{L} \p{M} \p{P} \p{S} so that both
 * agree on every code point (measured: nothing is the other way round). A newer PCRE2 already
 * has them, which is harmless. */
#define NEWER_N "\\x{11F50}-\\x{11F59}\\x{1D2C0}-\\x{1D2D3}\\x{1E4F0}-\\x{1E4F9}"
#define NEWER_L                                                                                            \
    "\\x{1123F}-\\x{11240}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}\\x{1342F}"                 \
    "\\x{13441}-\\x{13446}"                                                                               \
    "\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}\\x{2B739}"       \
    "\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}"
#define NEWER_M                                                                                            \
    "\\x{CF3}\\x{ECE}\\x{10EFD}-\\x{10EFF}\\x{11241}\\x{11F00}-\\x{11F01}\\x{11F03}"                      \
    "\\x{11F34}-\\x{11F3A}"                                                                               \
    "\\x{11F3E}-\\x{11F42}\\x{13440}\\x{13447}-\\x{13455}\\x{1E08F}\\x{1E4EC}-\\x{1E4EF}"
#define NEWER_P "\\x{11B00}-\\x{11B09}\\x{11F43}-\\x{11F4F}"
#define NEWER_S                                                                                            \
    "\\x{2FFC}-\\x{2FFF}\\x{31EF}\\x{1F6DC}\\x{1F774}-\\x{1F776}\\x{1F77B}-\\x{1F77F}\\x{1F7D9}"          \
    "\\x{1FA75}-\\x{1FA77}\\x{1FA87}-\\x{1FA88}\\x{1FAAD}-\\x{1FAAF}\\x{1FABB}-\\x{1FABD}\\x{1FABF}"      \
    "\\x{1FACE}-\\x{1FACF}\\x{1FADA}-\\x{1FADB}\\x{1FAE8}\\x{1FAF7}-\\x{1FAF8}"

static const char *newer_members(const char *prop) {
    if (!strcmp(prop, "N")) return NEWER_N;
    if (!strcmp(prop, "L")) return NEWER_L;
    if (!strcmp(prop, "M")) return NEWER_M;
    if (!strcmp(prop, "P")) return NEWER_P;
    if (!strcmp(prop, "S")) return NEWER_S;
    return NULL;
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (tok_grow((void **)&b->p, &b->cap, b->n + n + 1, 1)) {
        b->oom = true;
        return;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* \p{...} at p (p[0] == '\\', p[1] == 'p' or 'P'): writes the adapted property to *name and
 * returns the length consumed, or 0 if it is not a \p{..} property. */
static size_t parse_prop(const char *p, char *name, size_t cap) {
    if (p[2] != '{') return 0;
    const char *e = strchr(p + 3, '}');
    if (!e || (size_t)(e - (p + 3)) >= cap) return 0;
    size_t l = (size_t)(e - (p + 3));
    memcpy(name, p + 3, l);
    name[l] = 0;
    /* llama.cpp runs these regexes on a "collapsed" text where every letter is one class:
     * \p{Lu}, \p{Ll}, \p{Lt}, \p{Lm} and \p{Lo} all mean \p{L} there */
    if (l == 2 && name[0] == 'L' && strchr("ultmo", name[1])) name[1] = 0;
    return l + 4;
}

/* Does a (non-adapted) character class match U+000B? */
static bool class_matches_vt(const char *cls) {
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)cls, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    if (!re) return false; /* the full pattern's compile reports the error */
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = md ? pcre2_match(re, (PCRE2_SPTR) "\v", 1, 0, PCRE2_ANCHORED, md, NULL) : -1;
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc >= 0;
}

/* Rewrite a table regex so PCRE2 (UTF + UCP) reproduces llama.cpp's split:
 *  - \s and \S become explicit White_Space classes (U+0085 included, as in llama.cpp);
 *  - \d becomes [0-9] (std::regex's \d is ASCII);
 *  - \p{Lu} \p{Ll} \p{Lt} \p{Lm} \p{Lo} become \p{L} (see parse_prop);
 *  - '~' is not in \p{S}: llama.cpp's ASCII stand-in for \p{S} lists $+<=>^`| only, so a class
 *    using \p{S} without naming '~' is wrapped to exclude (or, negated, admit) '~';
 *  - a class listing non-ASCII characters sees non-ASCII white space as \v (see below);
 *  - \p{N} \p{L} \p{M} \p{P} \p{S} also take the code points of NEWER_* above.
 * Non-ASCII characters outside classes do not occur in the table and are left alone.
 * Returns a malloc'ed pattern or NULL. */
static char *adapt_pattern(const char *in) {
    sbuf b = {0};
    size_t n = strlen(in);
    for (size_t i = 0; i < n;) {
        char c = in[i];
        if (c == '\\' && i + 1 < n) {
            char e = in[i + 1];
            char name[32];
            size_t pl;
            if (e == 's') sb_puts(&b, "[" WS_MEMBERS "]"), i += 2;
            else if (e == 'S') sb_puts(&b, "[^" WS_MEMBERS "]"), i += 2;
            else if (e == 'd') sb_puts(&b, "[0-9]"), i += 2;
            else if ((e == 'p' || e == 'P') && (pl = parse_prop(in + i, name, sizeof name))) {
                bool sym = e == 'p' && !strcmp(name, "S");
                const char *newer = newer_members(name);
                sb_puts(&b, sym ? "(?:(?!~)" : "");
                sb_puts(&b, newer ? (e == 'p' ? "[" : "[^") : "");
                sb_puts(&b, newer ? "\\p{" : e == 'p' ? "\\p{" : "\\P{");
                sb_puts(&b, name);
                sb_puts(&b, "}");
                if (newer) sb_puts(&b, newer), sb_puts(&b, "]");
                sb_puts(&b, sym ? ")" : "");
                i += pl;
            } else {
                sb_put(&b, in + i, 2), i += 2;
            }
        } else if (c == '[') {
            sbuf cls = {0};
            size_t j = i + 1;
            bool neg = false, has_sym = false, has_tilde = false, has_nonascii = false;
            if (j < n && in[j] == '^') neg = true, j++;
            sb_puts(&cls, neg ? "[^" : "[");
            if (j < n && in[j] == ']') sb_put(&cls, "]", 1), j++; /* leading ] is literal */
            while (j < n && in[j] != ']') {
                char name[32];
                size_t pl;
                if (in[j] == '\\' && j + 1 < n) {
                    char e = in[j + 1];
                    if (e == 's') sb_puts(&cls, WS_MEMBERS), j += 2;
                    else if (e == 'd') sb_puts(&cls, "0-9"), j += 2;
                    else if ((e == 'p' || e == 'P') && (pl = parse_prop(in + j, name, sizeof name))) {
                        if (e == 'p' && !strcmp(name, "S")) has_sym = true;
                        sb_put(&cls, in + j, 2);
                        sb_puts(&cls, "{");
                        sb_puts(&cls, name);
                        sb_puts(&cls, "}");
                        if (e == 'p' && newer_members(name)) sb_puts(&cls, newer_members(name));
                        j += pl;
                    } else {
                        if (e == '~') has_tilde = true;
                        if (e == 'x' && j + 2 < n && in[j + 2] == '{' &&
                            strtoul(in + j + 3, NULL, 16) >= 0x80)
                            has_nonascii = true;
                        sb_put(&cls, in + j, 2), j += 2;
                    }
                } else {
                    if (in[j] == '~') has_tilde = true;
                    if ((unsigned char)in[j] >= 0x80) has_nonascii = true;
                    sb_put(&cls, in + j, 1), j++;
                }
            }
            sb_puts(&cls, "]");
            /* llama.cpp matches regexes without \p{..} on the code points with every non-ASCII
             * white space replaced by \v (and the \p{..} ones on a text where it also became \v),
             * so a class listing non-ASCII characters sees \v instead of, say, U+3000: such a
             * class takes all of those spaces if it takes \v, and none of them otherwise */
            bool ws_as_vt = has_nonascii && cls.p && class_matches_vt(cls.p);
            if (has_nonascii) sb_puts(&b, ws_as_vt ? "(?:[" WS_NONASCII "]|" : "(?:(?![" WS_NONASCII "])");
            if (has_sym && !has_tilde) sb_puts(&b, neg ? "(?:~|" : "(?:(?!~)");
            if (cls.p) sb_put(&b, cls.p, cls.n);
            if (has_sym && !has_tilde) sb_puts(&b, ")");
            if (has_nonascii) sb_puts(&b, ")");
            b.oom |= cls.oom;
            free(cls.p);
            i = j < n ? j + 1 : j;
        } else {
            sb_put(&b, in + i, 1), i++;
        }
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p ? b.p : calloc(1, 1);
}

static pcre2_code *compile(const char *pattern, qs_error *err) {
    char *adapted = adapt_pattern(pattern);
    if (!adapted) {
        qs_error_set(err, "out of memory");
        return NULL;
    }
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)adapted, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &ec, &eo, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        qs_error_set(err, "pre-tokenizer regex, offset %zu: %s", (size_t)eo, (const char *)msg);
        free(adapted);
        return NULL;
    }
    free(adapted);
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without JIT the interpreter is used */
    return re;
}

int tok_bpe_setup(qs_tokenizer *t, qs_error *err) {
    const pre_def *d = NULL;
    for (size_t i = 0; i < sizeof k_pre / sizeof k_pre[0] && !d; i++)
        if (name_in_list(k_pre[i].names, t->pre)) d = &k_pre[i];
    if (!d) {
        if (!strcmp(t->pre, "kimi-k2") || !strcmp(t->pre, "whitespace"))
            return qs_error_set(err, "tokenizer.ggml.pre '%s' is not supported yet", t->pre);
        return qs_error_set(err, "tokenizer.ggml.pre '%s' is not a known pre-tokenizer", t->pre);
    }
    t->ignore_merges = d->flags & PRE_IGNORE_MERGES;
    if (d->flags & PRE_ADD_BOS) t->add_bos = true;
    if (d->flags & PRE_NO_CLEAN) t->clean_spaces = false;
    if (d->flags & PRE_NO_BOS_ID) t->bos = -1;
    if (d->flags & PRE_ADD_SEP) t->add_sep = true;
    if (d->flags & PRE_ESCAPE_WS) t->escape_ws = true;
    if (d->flags & PRE_RAW_UTF8) t->byte_encode = false;
    t->nl_runs = d->flags & PRE_NL_RUNS;
    t->force_bos = d->flags & PRE_FORCE_BOS;

    t->n_split = 0;
    for (int i = 0; i < TOK_MAX_REGEX && d->re[i]; i++) {
        tok_split *s = &t->split[t->n_split];
        if (!strcmp(d->re[i], DIGITS3)) {
            s->kind = TOK_SPLIT_DIGITS3;
            s->re = compile("\\p{N}+", err);
        } else {
            s->kind = TOK_SPLIT_REGEX;
            s->re = compile(d->re[i], err);
        }
        if (!s->re) return qs_error_prefix(err, "tokenizer.ggml.pre '%s'", t->pre);
        t->n_split++;
    }
    return QS_OK;
}

void tok_bpe_free(qs_tokenizer *t) {
    for (int i = 0; i < t->n_split; i++) pcre2_code_free(t->split[i].re);
    t->n_split = 0;
}

/* ================================================================ input normalization */

/* llama.cpp decodes the fragment to code points leniently (overlong forms and surrogates
 * accepted, a bad byte becomes U+FFFD) and rebuilds the words from those code points, so its
 * words are the canonical re-encoding. norm gets that re-encoding; subj is the same bytes with
 * surrogates (which PCRE2 cannot take) shown as U+FFFD, also 3 bytes, so offsets agree. */
static int normalize(const char *text, size_t len, tok_scratch *s, const char **norm, const char **subj,
                     size_t *out_len) {
    if (qs_utf8_valid(text, len)) {
        *norm = *subj = text;
        *out_len = len;
        return QS_OK;
    }
    if (tok_grow((void **)&s->norm, &s->norm_cap, len * 3 + 1, 1) ||
        tok_grow((void **)&s->subj, &s->subj_cap, len * 3 + 1, 1))
        return QS_ENOMEM;
    const unsigned char *u = (const unsigned char *)text;
    size_t i = 0, o = 0;
    while (i < len) {
        uint32_t cp = 0xfffd;
        size_t adv = 1;
        unsigned c = u[i];
        if (c < 0x80) {
            cp = c;
        } else if ((c & 0x40) == 0) {
            /* continuation byte: invalid */
        } else if ((c & 0x20) == 0) {
            if (i + 1 < len && (u[i + 1] & 0xc0) == 0x80)
                cp = ((c & 0x1fu) << 6) | (u[i + 1] & 0x3fu), adv = 2;
        } else if ((c & 0x10) == 0) {
            if (i + 2 < len && (u[i + 1] & 0xc0) == 0x80 && (u[i + 2] & 0xc0) == 0x80)
                cp = ((c & 0x0fu) << 12) | ((u[i + 1] & 0x3fu) << 6) | (u[i + 2] & 0x3fu), adv = 3;
        } else if ((c & 0x08) == 0) {
            if (i + 3 < len && (u[i + 1] & 0xc0) == 0x80 && (u[i + 2] & 0xc0) == 0x80 &&
                (u[i + 3] & 0xc0) == 0x80)
                cp = ((c & 0x07u) << 18) | ((u[i + 1] & 0x3fu) << 12) | ((u[i + 2] & 0x3fu) << 6) |
                     (u[i + 3] & 0x3fu),
                adv = 4;
        }
        if (cp > 0x10ffff) cp = 0xfffd; /* llama.cpp cannot encode these (it throws) */
        i += adv;
        char *n = s->norm + o, *p = s->subj + o;
        if (cp < 0x80) {
            n[0] = p[0] = (char)cp;
            o += 1;
        } else if (cp < 0x800) {
            n[0] = p[0] = (char)(0xc0 | (cp >> 6));
            n[1] = p[1] = (char)(0x80 | (cp & 0x3f));
            o += 2;
        } else if (cp < 0x10000) {
            n[0] = (char)(0xe0 | (cp >> 12));
            n[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
            n[2] = (char)(0x80 | (cp & 0x3f));
            if (cp >= 0xd800 && cp <= 0xdfff) memcpy(p, "\xef\xbf\xbd", 3);
            else memcpy(p, n, 3);
            o += 3;
        } else {
            n[0] = p[0] = (char)(0xf0 | (cp >> 18));
            n[1] = p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
            n[2] = p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
            n[3] = p[3] = (char)(0x80 | (cp & 0x3f));
            o += 4;
        }
    }
    *norm = s->norm;
    *subj = s->subj;
    *out_len = o;
    return QS_OK;
}

/* ================================================================ splitting */

static int seg_push(size_t **v, size_t *cap, size_t *n, size_t a, size_t b) {
    if (a >= b) return QS_OK;
    if (tok_grow((void **)v, cap, 2 * (*n + 1), sizeof **v)) return QS_ENOMEM;
    (*v)[2 * *n] = a;
    (*v)[2 * *n + 1] = b;
    (*n)++;
    return QS_OK;
}

static int ensure_match_data(tok_scratch *s, qs_error *err) {
    if (s->md) return QS_OK;
    s->md = pcre2_match_data_create(4, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->jit = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, NULL);
    if (!s->md || !s->mctx || !s->jit) {
        qs_error_set(err, "out of memory");
        return QS_ENOMEM;
    }
    pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
    return QS_OK;
}

/* Cut [a, b) of subj by one regex: matches and gaps in order (empty matches only cut). */
static int split_regex(const pcre2_code *re, const char *subj, size_t a, size_t b, tok_scratch *s,
                       size_t **out, size_t *cap, size_t *n, qs_error *err) {
    const PCRE2_SPTR p = (PCRE2_SPTR)(subj + a);
    size_t len = b - a, pos = 0, last = 0;
    uint32_t opts = 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
    while (pos <= len) {
        int rc = pcre2_match(re, p, len, pos, opts | PCRE2_NO_UTF_CHECK, s->md, s->mctx);
        if (rc == PCRE2_ERROR_NOMATCH) {
            if (opts == 0 || pos >= len) break;
            /* no non-empty match where the empty one was: step one character on */
            pos += tok_utf8_len(p[pos]);
            if (pos > len) pos = len;
            opts = 0;
            continue;
        }
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return qs_error_set(err, "pre-tokenizer regex failed: %s", (const char *)msg);
        }
        size_t ms = ov[0], me = ov[1];
        if (seg_push(out, cap, n, a + last, a + ms) || seg_push(out, cap, n, a + ms, a + me))
            return QS_ENOMEM;
        last = me > last ? me : last;
        pos = me;
        opts = me == ms ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
    }
    if (seg_push(out, cap, n, a + last, b)) return QS_ENOMEM;
    return QS_OK;
}

/* llama.cpp's digit grouping (AFMoE, tiny_aya): a run of digits is cut into groups of three
 * counted from its end, the shorter remainder first ("1234567" -> "1" "234" "567"). Text
 * before a run is not cut from it: it stays glued to the run's first group, which later
 * regexes then separate (kept for exact agreement with llama.cpp). */
static int split_digits(const pcre2_code *digits, const char *subj, size_t a, size_t b, tok_scratch *s,
                        size_t **out, size_t *cap, size_t *n, qs_error *err) {
    const PCRE2_SPTR p = (PCRE2_SPTR)(subj + a);
    size_t len = b - a, pos = 0, prev = 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
    while (pos < len) {
        int rc = pcre2_match(digits, p, len, pos, PCRE2_NO_UTF_CHECK, s->md, s->mctx);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) return qs_error_set(err, "pre-tokenizer regex failed (%d)", rc);
        size_t ds = ov[0], de = ov[1];
        /* count code points of the run */
        size_t count = 0;
        for (size_t k = ds; k < de; k += tok_utf8_len(p[k])) count++;
        size_t cur = ds, rem = count % 3;
        size_t groups_left = count;
        if (rem) {
            for (size_t k = 0; k < rem; k++) cur += tok_utf8_len(p[cur]);
            if (seg_push(out, cap, n, a + prev, a + cur)) return QS_ENOMEM;
            prev = cur;
            groups_left -= rem;
        }
        while (groups_left > 0) {
            for (int k = 0; k < 3; k++) cur += tok_utf8_len(p[cur]);
            if (seg_push(out, cap, n, a + prev, a + cur)) return QS_ENOMEM;
            prev = cur;
            groups_left -= 3;
        }
        pos = de;
    }
    if (seg_push(out, cap, n, a + prev, b)) return QS_ENOMEM;
    return QS_OK;
}

/* Words of a fragment: on success s->seg holds *n_words (start, end) pairs of byte offsets
 * into the normalized text returned in *norm. */
static int split_words(const qs_tokenizer *t, const char *text, size_t len, tok_scratch *s, const char **norm,
                       size_t *norm_len, size_t *n_words, qs_error *err) {
    const char *subj;
    if (normalize(text, len, s, norm, &subj, norm_len)) return qs_error_set(err, "out of memory"), QS_ENOMEM;
    if (ensure_match_data(s, err)) return QS_ENOMEM;
    size_t n = 0;
    if (seg_push(&s->seg, &s->seg_cap, &n, 0, *norm_len)) return QS_ENOMEM;
    for (int r = 0; r < t->n_split; r++) {
        size_t n2 = 0;
        for (size_t i = 0; i < n; i++) {
            size_t a = s->seg[2 * i], b = s->seg[2 * i + 1];
            int rc = t->split[r].kind == TOK_SPLIT_DIGITS3
                         ? split_digits(t->split[r].re, subj, a, b, s, &s->seg2, &s->seg2_cap, &n2, err)
                         : split_regex(t->split[r].re, subj, a, b, s, &s->seg2, &s->seg2_cap, &n2, err);
            if (rc == QS_ENOMEM) qs_error_set(err, "out of memory");
            if (rc) return rc;
        }
        size_t *tv = s->seg, tc = s->seg_cap;
        s->seg = s->seg2, s->seg_cap = s->seg2_cap;
        s->seg2 = tv, s->seg2_cap = tc;
        n = n2;
    }
    *n_words = n;
    return QS_OK;
}

/* ================================================================ merging */

typedef struct bpe_sym {
    size_t off, n; /* bytes in s->buf; n = 0 once merged away */
    int32_t sid;   /* string id of the symbol's text, -1 if it is in no merge and no token */
    int32_t prev, next;
} bpe_sym;

typedef struct bpe_bigram {
    int32_t left, right;
    int32_t rank;
    size_t size;
} bpe_bigram;

static bool bpe_before(const bpe_bigram *a, const bpe_bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void bheap_up(bpe_bigram *h, size_t i) {
    bpe_bigram x = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bpe_before(&x, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static void bheap_down(bpe_bigram *h, size_t n, size_t i) {
    bpe_bigram x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && bpe_before(&h[c + 1], &h[c])) c++;
        if (!bpe_before(&h[c], &x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static int bpe_add(const qs_tokenizer *t, tok_scratch *s, size_t *n_heap, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return QS_OK;
    bpe_sym *sym = s->sym;
    int32_t rank = tok_pair_rank(&t->merges, sym[l].sid, sym[r].sid);
    if (rank < 0) return QS_OK;
    if (tok_grow(&s->heap, &s->heap_cap, *n_heap + 1, sizeof(bpe_bigram))) return QS_ENOMEM;
    bpe_bigram *h = s->heap;
    h[*n_heap] = (bpe_bigram){l, r, rank, sym[l].n + sym[r].n};
    bheap_up(h, (*n_heap)++);
    return QS_OK;
}

static int push_fallback(const qs_tokenizer *t, const char *p, size_t n, tok_ids *out) {
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)p[k];
        int32_t id;
        if (t->byte_encode) {
            id = tok_strtab_find(&t->str, (const char *)&c, 1);
            if (id >= t->n_vocab) id = -1;
        } else {
            id = t->byte_token[c];
        }
        if (id >= 0 && tok_ids_push(out, id)) return QS_ENOMEM;
    }
    return QS_OK;
}

/* Merge one word (raw bytes) and append its tokens. */
static int bpe_word(const qs_tokenizer *t, const char *w, size_t wl, tok_scratch *s, tok_ids *out) {
    /* the word in the model's alphabet, one symbol per byte (or per character without it) */
    size_t n_sym = 0;
    if (t->byte_encode) {
        if (tok_grow((void **)&s->buf, &s->buf_cap, wl * 2 + 1, 1)) return QS_ENOMEM;
        if (tok_grow(&s->sym, &s->sym_cap, wl, sizeof(bpe_sym))) return QS_ENOMEM;
        bpe_sym *sym = s->sym;
        size_t o = 0;
        for (size_t i = 0; i < wl; i++) {
            unsigned char c = (unsigned char)w[i];
            memcpy(s->buf + o, t->byte_enc[c], t->byte_enc_len[c]);
            sym[n_sym] =
                (bpe_sym){o, t->byte_enc_len[c], t->byte_sid[c], (int32_t)n_sym - 1, (int32_t)n_sym + 1};
            o += t->byte_enc_len[c];
            n_sym++;
        }
    } else {
        if (tok_grow((void **)&s->buf, &s->buf_cap, wl + 1, 1)) return QS_ENOMEM;
        if (tok_grow(&s->sym, &s->sym_cap, wl, sizeof(bpe_sym))) return QS_ENOMEM;
        memcpy(s->buf, w, wl);
        bpe_sym *sym = s->sym;
        for (size_t o = 0; o < wl;) {
            size_t l = tok_utf8_len((unsigned char)w[o]);
            if (l > wl - o) l = wl - o;
            int32_t sid = tok_strtab_find(&t->str, w + o, l);
            sym[n_sym] = (bpe_sym){o, l, sid, (int32_t)n_sym - 1, (int32_t)n_sym + 1};
            o += l;
            n_sym++;
        }
    }
    if (n_sym == 0) return QS_OK;
    if (n_sym > INT32_MAX / 2) return QS_ERR;
    bpe_sym *sym = s->sym;
    sym[n_sym - 1].next = -1;
    size_t enc_len = sym[n_sym - 1].off + sym[n_sym - 1].n;

    if (t->ignore_merges) {
        int32_t id = tok_strtab_find(&t->str, s->buf, enc_len);
        if (id >= 0 && id < t->n_vocab) return tok_ids_push(out, id);
    }
    if (t->nl_runs && memchr(w, '\n', wl)) {
        /* Gemma 4: a run of newlines that is itself a token is not merged piecewise */
        bool all_nl = true;
        for (size_t i = 0; i < wl && all_nl; i++) all_nl = w[i] == '\n';
        int32_t id = all_nl ? tok_strtab_find(&t->str, w, wl) : -1;
        if (id >= 0 && id < t->n_vocab) return tok_ids_push(out, id);
    }

    size_t n_heap = 0;
    for (size_t i = 1; i < n_sym; i++)
        if (bpe_add(t, s, &n_heap, (int32_t)i - 1, (int32_t)i)) return QS_ENOMEM;
    while (n_heap > 0) {
        bpe_bigram *h = s->heap;
        bpe_bigram b = h[0];
        h[0] = h[--n_heap];
        if (n_heap) bheap_down(h, n_heap, 0);
        sym = s->sym;
        bpe_sym *l = &sym[b.left], *r = &sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* outdated */
        l->n += r->n;
        r->n = 0;
        l->sid = tok_strtab_find(&t->str, s->buf + l->off, l->n);
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        if (bpe_add(t, s, &n_heap, l->prev, b.left)) return QS_ENOMEM;
        if (bpe_add(t, s, &n_heap, b.left, sym[b.left].next)) return QS_ENOMEM;
    }
    sym = s->sym;
    for (int32_t i = 0; i >= 0; i = sym[i].next) {
        if (sym[i].sid >= 0 && sym[i].sid < t->n_vocab) {
            if (tok_ids_push(out, sym[i].sid)) return QS_ENOMEM;
        } else if (push_fallback(t, s->buf + sym[i].off, sym[i].n, out)) {
            return QS_ENOMEM;
        }
    }
    return QS_OK;
}

int tok_bpe_fragment(const qs_tokenizer *t, const char *text, size_t len, tok_scratch *s, tok_ids *out,
                     qs_error *err) {
    const char *norm;
    size_t norm_len, n_words;
    int rc = split_words(t, text, len, s, &norm, &norm_len, &n_words, err);
    if (rc) return rc;
    for (size_t i = 0; i < n_words; i++) {
        size_t a = s->seg[2 * i], b = s->seg[2 * i + 1];
        rc = bpe_word(t, norm + a, b - a, s, out);
        if (rc == QS_ENOMEM) return qs_error_set(err, "out of memory"), QS_ENOMEM;
        if (rc) return qs_error_set(err, "word too long");
    }
    return QS_OK;
}
