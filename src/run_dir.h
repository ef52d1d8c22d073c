/*
 * run_dir.h - a program's output folder, replaced as a whole.
 *
 * A run writes into a fresh folder beside its final one, named
 * "OUT.partial-PID". When the run has finished, run_dir_commit puts that
 * folder in place of OUT in one step: on Linux renameat2(RENAME_EXCHANGE)
 * swaps the two atomically, and the old run, now under the partial name, is
 * removed; where that call does not exist, OUT is first renamed to
 * "OUT.old-PID" and the new folder renamed to OUT.
 *
 * So whenever the program is killed (kill -9 included), OUT holds the old
 * run or the new one, never a mixture. What a killed run leaves behind is a
 * folder with one of those two suffixes and the PID of a dead process; the
 * next run_dir_begin for the same OUT removes it (or, if OUT itself is
 * missing because the fallback was killed between its two renames, puts the
 * old run back first).
 */
#ifndef RUN_DIR_H
#define RUN_DIR_H

#include "emb_error.h"

typedef struct RunDir {
    char out[1024];   // the final folder, OUT
    char tmp[1100];   // the folder being written, OUT.partial-PID
} RunDir;

// Removes what killed runs left beside out, then creates a fresh folder to
// write the run into (its name is rd->tmp). out's parent folders are created.
int run_dir_begin(RunDir *rd, const char *out, EmbError *err);

// Puts the finished run in place of out, atomically (see above).
int run_dir_commit(RunDir *rd, EmbError *err);

// Removes the unfinished run's folder (after an error).
void run_dir_abort(RunDir *rd);

// Removes a file, a symbolic link or a whole folder tree (without following
// links). Returns 0, or -1 if something could not be removed.
int run_dir_remove_tree(const char *path);

// Test hooks. EMB_TEST_NO_EXCHANGE in the environment makes run_dir_commit
// take the fallback (two renames). When EMB_TEST_KILL_AT=N, the Nth call
// (each output file committed, and the moment between swapping the folders
// and removing the old run, counts one) kills the process with SIGKILL, so
// a test can stop a run at each of those moments. Otherwise it does nothing.
void run_dir_checkpoint(void);

#endif
