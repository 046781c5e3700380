/* SPDX-License-Identifier: Apache-2.0 */
/* What every step of a rotation pass asks and reports (pass.c): whether
 * the pass goes on, and the objects it could not read or convert. */
#ifndef LETHEFS_ROTATION_PASS_H
#define LETHEFS_ROTATION_PASS_H

#include <stdbool.h>

#include "state.h"

/* Whether the pass goes on: not stopped, the gate open and the keys
 * there, no lock came since the pass began (w->lock_gen), and the
 * backing store did not run out of room (w->nospace). */
bool lfs_rot_keep_going(struct walk *w);
/* An object (what: "file", "directory", ...; rel/name: where below d/,
 * name may be NULL) the pass could not read or convert: counted in
 * w->errors and r->errors and logged, unless a lock interrupted the pass. */
void lfs_rot_note_error(struct walk *w, const char *what, const char *rel, const char *name, int e);
/* A file of the pass could not be converted (path: below d/). */
void lfs_rot_file_error(struct walk *w, const char *path, int e);

#endif
