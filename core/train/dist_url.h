/* Parser for the "tcp://HOST:PORT" rendezvous address of the NCCL communicator's TCP bootstrap (kernels/cuda/comm_nccl.c).
 * Pure C with no CUDA dependency, so it can be unit-tested on machines without a GPU. */
#ifndef VISFT_CORE_TRAIN_DIST_URL_H
#define VISFT_CORE_TRAIN_DIST_URL_H

#include <stddef.h>

#include "visft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest host name accepted (the DNS limit); host_len must still leave room for it plus the '\0'. */
#define VT_TCP_URL_HOST_MAX 253

/* Parses "tcp://HOST:PORT". HOST is a name or IPv4 address (letters, digits, '-', '.', '_') or an IPv6
 * address in brackets ("tcp://[::1]:29500"; the brackets are not copied to host). PORT is decimal in
 * 1..65535 and nothing may follow it. On success copies HOST into host (host_len bytes, '\0'-terminated),
 * sets *port and returns VT_OK; otherwise returns VT_EINVAL with a one-line message in err, host "" and
 * *port 0. */
int vt_parse_tcp_url(const char *url, char *host, size_t host_len, int *port, vt_err *err);

#ifdef __cplusplus
}
#endif
#endif
