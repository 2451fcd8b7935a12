/* cli_engine.h — the one loader every engine command (chat, ppl, bench) uses: the model opened,
 * the plan or preset resolved against it (warnings printed), and applied in memory.
 *
 *     cli_engine e;
 *     int rc = cli_engine_open(&e, "chat", model_path, plan_path, preset, n_threads);
 *     if (rc != CLI_OK) return rc;          // message already printed
 *     ... qs_infer_ctx_new(cli_engine_model(&e), ...) ...
 *     cli_engine_close(&e);
 *
 * Without a plan and a preset the engine runs the model as stored (nothing converted). With
 * one, every weight whose planned type differs from its stored type is quantized in memory
 * (applied.h): a progress line "quantizing 37/48 tensors  61%  ..." is drawn on stderr when
 * stderr is a terminal, and Ctrl-C (or SIGTERM) during that step cancels it cleanly (the
 * command then fails with "interrupted"). The signal handlers are restored afterwards, so the
 * command may install its own. Single-threaded use (the CLI's main thread). */
#ifndef QS_CLI_ENGINE_H
#define QS_CLI_ENGINE_H

#include "applied.h"
#include "cli_plan.h"
#include "tokenizer.h"

typedef struct cli_engine {
    cli_planned cp;         /* model (cp.m), plan, resolution, warnings; owned */
    qs_applied *applied;    /* owned: the planned and the original inference models */
    bool has_plan;          /* a plan or a preset was given */
    char plan_desc[160];    /* "preset Q4_K_M", "plan mix.yaml", "as stored (F32)" */
    qs_applied_stats stats; /* what applying the plan did (zero without a plan) */
    double apply_ms;        /* wall time of the in-memory quantization */
    int n_threads;          /* as given: 0 = all cores */
    qs_tokenizer *tok;      /* loaded by cli_engine_tokenizer, owned */
} cli_engine;

/* Opens model_path and applies plan_path or preset (at most one of them; both NULL: as
 * stored), converting on n_threads threads (0 = all cores). cmd names the command in
 * messages ("quantscope CMD: ..."). Returns CLI_OK, CLI_FAIL (file, plan, engine errors,
 * interrupted; message printed, nothing to close) or CLI_USAGE (both given, unknown preset). */
int cli_engine_open(cli_engine *e, const char *cmd, const char *model_path, const char *plan_path,
                    const char *preset, int n_threads);

/* The model to run: quantized per the plan (as stored without one). */
const qs_infer_model *cli_engine_model(const cli_engine *e);
/* The model as stored in the file (for comparisons: ppl --kld). */
const qs_infer_model *cli_engine_original(const cli_engine *e);

/* The model's tokenizer, loaded on first use; NULL after printing "quantscope CMD: ..." when
 * the file has none or it is malformed. Owned by e. */
const qs_tokenizer *cli_engine_tokenizer(cli_engine *e, const char *cmd);

/* Bytes of weights quantized in memory (0 without a plan or when nothing changed). */
uint64_t cli_engine_quantized_bytes(const cli_engine *e);

void cli_engine_close(cli_engine *e);

#endif
