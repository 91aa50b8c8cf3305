/* libFuzzer target for the `--dist-init tcp://HOST:PORT` parser (core/train/dist_url.c): any input either
 * parses to a host of allowed characters that fits the buffer and a port in 1..65535, or fails with a one-line
 * message, leaving host empty and port 0. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "train/dist_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *url = malloc(size + 1);
    if (!url) return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    /* a small buffer too, so "does not fit" is exercised */
    size_t caps[2] = {VT_TCP_URL_HOST_MAX + 1, 8};
    for (int i = 0; i < 2; i++) {
        char host[VT_TCP_URL_HOST_MAX + 1];
        memset(host, 'x', sizeof host);
        int port = -1;
        vt_err err;
        int st = vt_parse_tcp_url(url, host, caps[i], &port, &err);
        if (st == VT_OK) {
            size_t n = strnlen(host, caps[i]);
            if (n == 0 || n >= caps[i] || port < 1 || port > 65535) abort();
            if (strncmp(url, "tcp://", 6) != 0) abort();
        } else {
            if (host[0] != '\0' || port != 0 || strchr(err.msg, '\n')) abort();
        }
    }
    free(url);
    return 0;
}
