/* The "tcp://HOST:PORT" rendezvous address of `--dist-init` (core/train/dist_url.c): accepted names, IPv4 and
 * bracketed IPv6, and a one-line error for every malformed form. */
#include <stdio.h>
#include <string.h>

#include "train/dist_url.h"
#include "vt_test.h"

static void good(const char *url, const char *want_host, int want_port) {
    char host[256];
    int port = -1;
    vt_err err = {VT_OK, ""};
    int s = vt_parse_tcp_url(url, host, sizeof host, &port, &err);
    if (s != VT_OK) fprintf(stderr, "unexpected failure for '%s': %s\n", url, err.msg);
    ck_assert(s == VT_OK);
    ck_assert(strcmp(host, want_host) == 0);
    ck_assert(port == want_port);
}

/* want_msg: a substring the one-line message must contain. */
static void bad(const char *url, const char *want_msg) {
    char host[256] = "junk";
    int port = 7;
    vt_err err = {VT_OK, ""};
    int s = vt_parse_tcp_url(url, host, sizeof host, &port, &err);
    if (s == VT_OK || !strstr(err.msg, want_msg))
        fprintf(stderr, "'%s': got %d '%s', wanted failure containing '%s'\n", url ? url : "(null)", s, err.msg, want_msg);
    ck_assert(s == VT_EINVAL);
    ck_assert(err.code == VT_EINVAL);
    ck_assert(strstr(err.msg, want_msg) != NULL);
    ck_assert(strchr(err.msg, '\n') == NULL);
    ck_assert(host[0] == '\0' && port == 0);
}

START_TEST(parses_good_and_rejects_bad_urls) {
    good("tcp://127.0.0.1:29500", "127.0.0.1", 29500);
    good("tcp://node-01.cluster_a.example:1", "node-01.cluster_a.example", 1);
    good("tcp://localhost:65535", "localhost", 65535);
    good("tcp://h:00080", "h", 80);
    good("tcp://[::1]:29500", "::1", 29500);
    good("tcp://[fe80::1:2]:443", "fe80::1:2", 443);
    good("tcp://[::ffff:10.0.0.1]:8000", "::ffff:10.0.0.1", 8000);

    bad(NULL, "NULL url");
    bad("", "missing 'tcp://'");
    bad("127.0.0.1:29500", "missing 'tcp://'");
    bad("http://h:80", "missing 'tcp://'");
    bad("TCP://h:80", "missing 'tcp://'");
    bad("tcp://h", "missing ':PORT'");
    bad("tcp://h:", "missing port number");
    bad("tcp://h:0", "out of range");
    bad("tcp://h:65536", "out of range");
    bad("tcp://h:123456", "out of range");
    bad("tcp://h:abc", "not a decimal");
    bad("tcp://h:-1", "not a decimal");
    bad("tcp://h:+80", "not a decimal");
    bad("tcp://h:80x", "not a decimal");
    bad("tcp://h:80/", "not a decimal");
    bad("tcpp:/[::1]:29500\n\n\n", "missing 'tcp://'"); /* found by fuzz_dist_url: the message stays one line */
    bad("tcp://h\t:80", "bad character");
    bad("tcp://h: 80", "not a decimal");
    bad("tcp://:80", "empty host");
    bad("tcp://", "missing ':PORT'");
    bad("tcp://h h:80", "bad character");
    bad("tcp://::1:80", "bad character");
    bad("tcp://[]:80", "empty host");
    bad("tcp://[::1:80", "closing ']'");
    bad("tcp://[::1]", "missing ':PORT' after the IPv6");
    bad("tcp://[::1]80", "missing ':PORT' after the IPv6");
    bad("tcp://[::1]:0", "out of range");
    bad("tcp://[fe80::1%eth0]:80", "zone ids");
    bad("tcp://[abc]:80", "not an IPv6");
    bad("tcp://[g::1]:80", "bad character");

    /* Host length: 253 characters is the limit; 254 is too long. */
    char url[400], want[300];
    memset(want, 'a', 253);
    want[253] = '\0';
    snprintf(url, sizeof url, "tcp://%s:5", want);
    good(url, want, 5);
    snprintf(url, sizeof url, "tcp://%sa:5", want);
    bad(url, "too long");

    /* A host that fits the DNS limit but not the caller's buffer. */
    {
        char small[4];
        int port = 9;
        vt_err err = {VT_OK, ""};
        ck_assert(vt_parse_tcp_url("tcp://abcd:80", small, sizeof small, &port, &err) == VT_EINVAL);
        ck_assert(strstr(err.msg, "too long") && small[0] == '\0' && port == 0);
        ck_assert(vt_parse_tcp_url("tcp://abc:80", small, sizeof small, &port, &err) == VT_OK);
        ck_assert(strcmp(small, "abc") == 0 && port == 80);
    }
    /* NULL outputs and a NULL err are tolerated. */
    {
        int port;
        char h[8];
        ck_assert(vt_parse_tcp_url("tcp://h:1", NULL, 8, &port, NULL) == VT_EINVAL);
        ck_assert(vt_parse_tcp_url("tcp://h:1", h, 0, &port, NULL) == VT_EINVAL);
        ck_assert(vt_parse_tcp_url("tcp://h:1", h, sizeof h, NULL, NULL) == VT_EINVAL);
        ck_assert(vt_parse_tcp_url("bad", h, sizeof h, &port, NULL) == VT_EINVAL);
    }
    }
END_TEST

VT_TEST_MAIN("dist_url", parses_good_and_rejects_bad_urls)
