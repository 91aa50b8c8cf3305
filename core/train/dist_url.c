/* "tcp://HOST:PORT" parser (see dist_url.h). Explicit character ranges rather than <ctype.h>, so the
 * accepted set does not depend on the locale. */
#include "train/dist_url.h"

#include <string.h>

static const char scheme[] = "tcp://";

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static int is_hex(char ch) { return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'); }
static int is_alnum(char ch) { return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

/* Fails with the URL quoted — truncated, control and non-ASCII bytes shown as '?', so the message stays one
 * bounded line whatever was passed; outputs are cleared. */
static int fail(vt_err *err, const char *url, char *host, size_t host_len, int *port, const char *why) {
    if (host && host_len > 0) host[0] = '\0';
    if (port) *port = 0;
    char shown[201];
    size_t n = 0;
    for (const char *p = url ? url : "(null)"; *p && n < sizeof shown - 1; p++)
        shown[n++] = (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f ? *p : '?';
    shown[n] = '\0';
    return vt_err_set(err, VT_EINVAL, "tcp url '%s': %s (expected tcp://HOST:PORT)", shown, why);
}

int vt_parse_tcp_url(const char *url, char *host, size_t host_len, int *port, vt_err *err) {
    if (!url) return fail(err, url, host, host_len, port, "NULL url");
    if (!host || host_len == 0 || !port) return fail(err, url, host, host_len, port, "NULL or empty output");
    if (strncmp(url, scheme, sizeof scheme - 1) != 0) return fail(err, url, host, host_len, port, "missing 'tcp://' scheme");

    const char *h = url + sizeof scheme - 1; /* start of the host */
    const char *h_end;                        /* one past the host */
    const char *colon;                        /* the ':' before the port */
    if (*h == '[') {
        /* IPv6 literal: hex digits, ':' and '.' (an embedded IPv4 tail) between brackets. */
        h++;
        h_end = strchr(h, ']');
        if (!h_end) return fail(err, url, host, host_len, port, "IPv6 address without closing ']'");
        if (h_end == h) return fail(err, url, host, host_len, port, "empty host");
        int has_colon = 0;
        for (const char *p = h; p < h_end; p++) {
            if (*p == ':') has_colon = 1;
            else if (!is_hex(*p) && *p != '.')
                return fail(err, url, host, host_len, port, "bad character in IPv6 address (zone ids are not supported)");
        }
        if (!has_colon) return fail(err, url, host, host_len, port, "bracketed host is not an IPv6 address");
        colon = h_end + 1;
        if (*colon != ':') return fail(err, url, host, host_len, port, "missing ':PORT' after the IPv6 address");
    } else {
        /* The last ':' so that a bare IPv6 address is reported as such rather than as an empty host. */
        colon = strrchr(h, ':');
        if (!colon) return fail(err, url, host, host_len, port, "missing ':PORT'");
        h_end = colon;
        if (h_end == h) return fail(err, url, host, host_len, port, "empty host");
        for (const char *p = h; p < h_end; p++) {
            if (!is_alnum(*p) && *p != '-' && *p != '.' && *p != '_')
                return fail(err, url, host, host_len, port, "bad character in host (IPv6 addresses need brackets)");
        }
    }

    size_t n = (size_t)(h_end - h);
    if (n > VT_TCP_URL_HOST_MAX || n >= host_len) return fail(err, url, host, host_len, port, "host name too long");

    /* Port: 1 to 5 decimal digits, value 1..65535, then the end of the string. */
    const char *p = colon + 1;
    if (*p == '\0') return fail(err, url, host, host_len, port, "missing port number");
    long v = 0;
    int digits = 0;
    for (; is_digit(*p); p++) {
        if (++digits > 5) return fail(err, url, host, host_len, port, "port out of range 1..65535");
        v = v * 10 + (*p - '0');
    }
    if (digits == 0 || *p != '\0') return fail(err, url, host, host_len, port, "port is not a decimal number");
    if (v < 1 || v > 65535) return fail(err, url, host, host_len, port, "port out of range 1..65535");

    memcpy(host, h, n);
    host[n] = '\0';
    *port = (int)v;
    return VT_OK;
}
