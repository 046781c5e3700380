/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs status --prometheus: the status of one or more mounts in the
 * Prometheus text exposition format (version 0.0.4), as node_exporter's
 * textfile collector reads it. The metrics are listed in docs/CLI-ABI.md. */
#ifndef LETHEFS_STATUS_PROMETHEUS_H
#define LETHEFS_STATUS_PROMETHEUS_H

/* Queries each mount (socket: --socket, for a single mount, or NULL) and
 * prints every metric family once with a sample per mount that answered;
 * a mount that did not answer has lethefs_up 0 and nothing else. Returns 0
 * once printed, LFS_EXIT_USAGE for more than LFS_PROM_MOUNTS_MAX mounts. */
int lfs_status_prometheus(char *const *mounts, int n, const char *socket);

#define LFS_PROM_MOUNTS_MAX 64

#endif
