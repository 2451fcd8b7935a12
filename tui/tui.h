/* tui.h — the full-screen explorer (ncursesw). Entry point for cli/.
 *
 *   int rc = tui_run("model.gguf", NULL, NULL, &err);
 *
 * Owned by tui/. */
#ifndef TUI_H
#define TUI_H

#include "qs_common.h"

/* Runs the explorer on a GGUF model until the user quits.
 *   model_path  the model to open, or NULL / "": the model picker first lists the GGUF files
 *               found on this machine (engine/model_scan.h) and the built-in demo model, and
 *               Enter opens one
 *   plan_path   a plan file (quantscope-plan(5)) to start from, or NULL: the plan then starts
 *               from the model's stored types (with the picker: opened with the chosen model)
 *   theme       a theme name (looked up in $XDG_CONFIG_HOME/quantscope/themes, then the installed
 *               and source themes/ folders) or a path to a .yaml file; NULL = "default-dark"
 * Needs stdin and stdout to be a terminal. Returns QS_OK after a normal quit; QS_ERR with err
 * filled when the model or plan cannot be opened or the terminal cannot be used (nothing is
 * drawn then). A bad theme is not an error: the default theme is used and the screen says why.
 * Environment: NO_COLOR (any value) turns colours off; the locale (LANG / LC_*) decides between
 * UTF-8 block characters and ASCII. */
int tui_run(const char *model_path, const char *plan_path, const char *theme, qs_error *err);

#endif
