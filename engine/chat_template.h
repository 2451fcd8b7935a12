/* chat_template.h — the prompt formats of chat models, recognised from their Jinja template.
 *
 * A GGUF chat model stores its Hugging Face chat template (Jinja source) under
 * tokenizer.chat_template. We do not run Jinja: like llama.cpp's llama_chat_apply_template we
 * recognise the family by markers the template text contains and format messages with our
 * own code for that family. Each family's output is, byte for byte, what llama.cpp's
 * llama_chat_apply_template produces for the same messages (tests/test_chat_template.c pins
 * this against strings produced by llama.cpp itself). BOS is never part of the text: the
 * tokenizer adds it as the model asks (as llama.cpp does).
 *
 * Families:
 *   none              no template (base models, e.g. stories260K): the messages' texts are
 *                     concatenated as they are, nothing else; the model continues the text
 *   chatml            <|im_start|>ROLE\nTEXT<|im_end|>\n            (Qwen, SmolLM, Hermes, ...)
 *   llama3            <|start_header_id|>ROLE<|end_header_id|>\n\nTEXT<|eot_id|>, text trimmed
 *   llama2            [INST] USER [/INST]ASSISTANT</s> with variants: -sys (<<SYS>> block in
 *                     the first turn), -sys-bos (<s> before later turns), -sys-strip (texts
 *                     trimmed)
 *   mistral-v1/v3/v3-tekken/v7/v7-tekken   Mistral's official [INST] layouts
 *   zephyr            <|ROLE|>\nTEXT<EOS>\n   (EOS is "<|endoftext|>" unless told otherwise)
 *   gemma             <start_of_turn>ROLE\nTEXT<end_of_turn>\n, "assistant" becomes "model",
 *                     the system text joins the first user turn, texts trimmed
 *   phi3              <|ROLE|>\nTEXT<|end|>\n
 *
 * Roles are free strings as in llama.cpp ("system", "user", "assistant"); families that name
 * roles in the text write them as given, [INST] families treat any role other than "system"
 * and "user" as the assistant.
 *
 * Everything here is pure (no globals, no I/O beyond reading an open GGUF's keys) and
 * thread-safe. */
#ifndef QS_CHAT_TEMPLATE_H
#define QS_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "gguf.h"
#include "qs_common.h"

typedef enum qs_chat_tmpl {
    QS_TMPL_UNKNOWN = -1, /* a template we do not recognise */
    QS_TMPL_NONE = 0,
    QS_TMPL_CHATML,
    QS_TMPL_LLAMA3,
    QS_TMPL_LLAMA2,
    QS_TMPL_LLAMA2_SYS,
    QS_TMPL_LLAMA2_SYS_BOS,
    QS_TMPL_LLAMA2_SYS_STRIP,
    QS_TMPL_MISTRAL_V1,
    QS_TMPL_MISTRAL_V3,
    QS_TMPL_MISTRAL_V3_TEKKEN,
    QS_TMPL_MISTRAL_V7,
    QS_TMPL_MISTRAL_V7_TEKKEN,
    QS_TMPL_ZEPHYR,
    QS_TMPL_GEMMA,
    QS_TMPL_PHI3,
    QS_TMPL_COUNT
} qs_chat_tmpl;

typedef struct qs_chat_msg {
    const char *role;    /* "system", "user", "assistant" */
    const char *content; /* NUL-terminated UTF-8 */
} qs_chat_msg;

/* The family of a Jinja chat template. NULL or "" gives QS_TMPL_NONE; a template that is
 * exactly a family name ("chatml") gives that family. The markers and their order follow
 * llama.cpp's llm_chat_detect_template, and templates llama.cpp assigns to families we do not
 * format (phi4, falcon3, deepseek, command-r, ...) give QS_TMPL_UNKNOWN rather than a wrong
 * guess. One deliberate difference: Zephyr's published template (<|user|>, <|assistant|>,
 * eos_token, no <|end|>) is recognised as zephyr, where llama.cpp takes it for GLM-Edge. */
qs_chat_tmpl qs_chat_tmpl_detect(const char *jinja);

/* The family of a model's tokenizer.chat_template (QS_TMPL_NONE when it has none, or when
 * the value is not a string). */
qs_chat_tmpl qs_chat_tmpl_of_model(const gguf_file *f);

/* The family named name ("chatml", "llama3", "llama2-sys", "none", ...), or QS_TMPL_UNKNOWN. */
qs_chat_tmpl qs_chat_tmpl_from_name(const char *name);
/* Name of a family ("chatml"); "unknown" for anything else. Static string. */
const char *qs_chat_tmpl_name(qs_chat_tmpl t);
/* All names, comma separated, for messages: "none, chatml, llama3, ...". Static string. */
const char *qs_chat_tmpl_all_names(void);

/* Formats n messages into *out (malloc'ed, NUL-terminated, caller frees; *len excludes the
 * NUL). add_ass appends the header that opens the assistant's reply, for families that have
 * one (the [INST] families end a user turn with [/INST] and have none). eos_text is the
 * model's end-of-sequence text, used only by zephyr (NULL: "<|endoftext|>", llama.cpp's
 * choice). Returns QS_OK, QS_ERR for QS_TMPL_UNKNOWN or a NULL role/content, QS_ENOMEM.
 *
 * For every family, formatting a prefix of the messages (without add_ass) gives a prefix of
 * the text of all of them, and the text with add_ass starts with the text without it: a chat
 * can therefore feed the model only the text each new message adds. */
int qs_chat_tmpl_format(qs_chat_tmpl t, const qs_chat_msg *msgs, size_t n, bool add_ass,
                        const char *eos_text, char **out, size_t *len, qs_error *err);

/* The texts that end an assistant turn in family t ("<|im_end|>" for chatml, "<|eot_id|>" and
 * "<|eom_id|>" for llama3, "</s>" for the [INST] families, ...): generation stops when the
 * model produces one. Up to 4, written to out; returns how many (0 for none: the model's own
 * end-of-generation tokens still apply). Static strings. eos_text as for format. */
int qs_chat_tmpl_end_of_turn(qs_chat_tmpl t, const char *eos_text, const char *out[4]);

/* True when the family writes the system message as a turn of its own (chatml, llama3,
 * zephyr, phi3, mistral-v7, none); false when it folds it into the first user turn (llama2,
 * mistral-v1/v3, gemma). A chat that drops old turns to make room keeps the system text; in
 * the second case that means keeping the whole first exchange. */
bool qs_chat_tmpl_system_is_separate(qs_chat_tmpl t);

#endif
