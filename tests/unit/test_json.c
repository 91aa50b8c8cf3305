/* JSON parser and writer: valid documents, every malformed class with its specific message, writer escaping
 * and round trips. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "visft/json.h"
#include "vt_test.h"

static vt_json_doc *parse_ok(const char *text) {
    vt_json_doc *doc = NULL;
    vt_err err = {0};
    vt_status st = vt_json_parse(text, strlen(text), NULL, &doc, NULL, &err);
    ck_assert_msg(st == VT_OK, "parse of %s failed: %s", text, err.msg);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

/* Parses text[0..len) expecting failure whose message contains `want`; returns the error offset. */
static size_t parse_fail_n(const char *text, size_t len, const char *want) {
    vt_json_doc *doc = (vt_json_doc *)1;
    vt_err err = {0};
    vt_json_loc loc;
    vt_json_opts opts = {.name = "t.json"};
    vt_status st = vt_json_parse(text, len, &opts, &doc, &loc, &err);
    ck_assert_msg(st != VT_OK, "parse of '%.*s' should fail", (int)len, text);
    ck_assert_ptr_null(doc);
    ck_assert_msg(strstr(err.msg, want), "error for '%.*s' is '%s', wanted '%s'", (int)len, text, err.msg, want);
    ck_assert_msg(strncmp(err.msg, "t.json:", 7) == 0, "error '%s' does not name the source", err.msg);
    return loc.offset;
}

static size_t parse_fail(const char *text, const char *want) { return parse_fail_n(text, strlen(text), want); }

START_TEST(test_scalars) {
    vt_json_doc *d = parse_ok("  true ");
    ck_assert(vt_json_is_bool(vt_json_root(d)) && vt_json_bool(vt_json_root(d)));
    vt_json_doc_free(d);
    d = parse_ok("false");
    ck_assert(vt_json_is_bool(vt_json_root(d)) && !vt_json_bool(vt_json_root(d)));
    vt_json_doc_free(d);
    d = parse_ok("null");
    ck_assert(vt_json_is_null(vt_json_root(d)));
    vt_json_doc_free(d);
    d = parse_ok("\"hi\"");
    ck_assert_str_eq(vt_json_string(vt_json_root(d)), "hi");
    ck_assert_uint_eq(vt_json_len(vt_json_root(d)), 2);
    vt_json_doc_free(d);
}
END_TEST

START_TEST(test_numbers) {
    struct {
        const char *text;
        double d;
        bool is_int;
        int64_t i;
    } cases[] = {
        {"0", 0, true, 0},
        {"-0", -0.0, false, 0},
        {"42", 42, true, 42},
        {"-17", -17, true, -17},
        {"3.5", 3.5, false, 0},
        {"1.0", 1, true, 1},
        {"1e3", 1000, true, 1000},
        {"2.5E-3", 0.0025, false, 0},
        {"0.1", 0.1, false, 0},
        {"9223372036854775807", 9223372036854775807.0, true, INT64_MAX},
        {"-9223372036854775808", -9223372036854775808.0, true, INT64_MIN},
        {"9223372036854775808", 9223372036854775808.0, false, 0},
        {"4611686018427387904", 4611686018427387904.0, true, INT64_C(4611686018427387904)},
        {"9007199254740993", 9007199254740992.0, true, INT64_C(9007199254740993)},
        {"123456789012345678901234567890", 1.2345678901234568e29, false, 0},
        {"1.7976931348623157e308", 1.7976931348623157e308, false, 0},
        {"5e-324", 5e-324, false, 0},
        {"0.30000000000000004", 0.30000000000000004, false, 0},
        {"1e-400", 0, true, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        vt_json_doc *d = parse_ok(cases[k].text);
        const vt_json *v = vt_json_root(d);
        ck_assert(vt_json_is_number(v));
        ck_assert_msg(vt_json_number(v) == cases[k].d, "%s -> %.17g", cases[k].text, vt_json_number(v));
        ck_assert_msg(vt_json_is_int(v) == cases[k].is_int, "%s is_int", cases[k].text);
        int64_t i = 12345;
        ck_assert(vt_json_int64(v, &i) == cases[k].is_int);
        if (cases[k].is_int) ck_assert_msg(i == cases[k].i, "%s -> %lld", cases[k].text, (long long)i);
        if (!strcmp(cases[k].text, "-0")) ck_assert(signbit(vt_json_number(v)));
        /* only integer literals count for the strict accessor */
        bool literal = cases[k].is_int && !strpbrk(cases[k].text, ".eE");
        ck_assert_msg(vt_json_int64_literal(v, &i) == literal, "%s literal", cases[k].text);
        vt_json_doc_free(d);
    }
}
END_TEST

START_TEST(test_nested_document) {
    const char *text = "{\"images\": [{\"id\": 1, \"file\": \"a.jpg\", \"size\": [640, 480]},\n"
                       "             {\"id\": 2, \"file\": \"b.jpg\", \"size\": [320, 240]}],\n"
                       " \"info\": {\"year\": 2017, \"empty\": {}, \"none\": []}, \"z\": null, \"a\": true}";
    vt_json_doc *d = parse_ok(text);
    const vt_json *root = vt_json_root(d);
    ck_assert(vt_json_is_object(root));
    ck_assert_uint_eq(vt_json_len(root), 4);
    /* key order is kept */
    ck_assert_str_eq(vt_json_string(vt_json_member_key(root, 0)), "images");
    ck_assert_str_eq(vt_json_string(vt_json_member_key(root, 1)), "info");
    ck_assert_str_eq(vt_json_string(vt_json_member_key(root, 2)), "z");
    ck_assert_str_eq(vt_json_string(vt_json_member_key(root, 3)), "a");
    ck_assert(vt_json_is_null(vt_json_member_value(root, 2)));
    ck_assert_ptr_null(vt_json_member_key(root, 4));
    const vt_json *images = vt_json_get(root, "images");
    ck_assert_uint_eq(vt_json_len(images), 2);
    const vt_json *im1 = vt_json_at(images, 1);
    int64_t id = 0;
    ck_assert(vt_json_int64(vt_json_get(im1, "id"), &id) && id == 2);
    ck_assert_str_eq(vt_json_string(vt_json_get(im1, "file")), "b.jpg");
    ck_assert(vt_json_number(vt_json_at(vt_json_get(im1, "size"), 1)) == 240);
    ck_assert(vt_json_number(vt_json_get(vt_json_get(root, "info"), "year")) == 2017);
    ck_assert(vt_json_is_object(vt_json_get(vt_json_get(root, "info"), "empty")));
    ck_assert_uint_eq(vt_json_len(vt_json_get(vt_json_get(root, "info"), "none")), 0);
    /* missing keys, wrong types and NULLs chain without crashing */
    ck_assert_ptr_null(vt_json_get(root, "nope"));
    ck_assert_ptr_null(vt_json_get(vt_json_get(root, "nope"), "deeper"));
    ck_assert_ptr_null(vt_json_at(root, 0));
    ck_assert_ptr_null(vt_json_at(images, 2));
    ck_assert_ptr_null(vt_json_get(images, "id"));
    ck_assert_int_eq(vt_json_typeof(NULL), VT_JSON_MISSING);
    ck_assert_ptr_null(vt_json_string(vt_json_get(root, "a")));
    ck_assert(vt_json_number(vt_json_get(root, "a")) == 0);
    ck_assert_uint_eq(vt_json_len(vt_json_get(root, "a")), 0);
    ck_assert(vt_json_doc_memory(d) > 0);
    vt_json_doc_free(d);
}
END_TEST

START_TEST(test_string_escapes) {
    vt_json_doc *d = parse_ok("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"");
    const vt_json *v = vt_json_root(d);
    const char *want = "a\"b\\c/d\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    ck_assert_str_eq(vt_json_string(v), want);
    ck_assert_uint_eq(vt_json_string_len(v), strlen(want));
    vt_json_doc_free(d);
    /* \u0000 is a real NUL inside the string; the length keeps it */
    d = parse_ok("\"x\\u0000y\"");
    ck_assert_uint_eq(vt_json_string_len(vt_json_root(d)), 3);
    ck_assert(memcmp(vt_json_string(vt_json_root(d)), "x\0y", 4) == 0);
    vt_json_doc_free(d);
    /* raw UTF-8 passes through */
    d = parse_ok("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
    ck_assert_str_eq(vt_json_string(vt_json_root(d)), "caf\xc3\xa9 \xf0\x9f\x98\x80");
    vt_json_doc_free(d);
    /* keys are unescaped too */
    d = parse_ok("{\"k\\u0065y\": 1}");
    ck_assert_ptr_nonnull(vt_json_get(vt_json_root(d), "key"));
    vt_json_doc_free(d);
}
END_TEST

START_TEST(test_whitespace_and_bom) {
    vt_json_doc *d = parse_ok("\xef\xbb\xbf \t\r\n[ 1 ,\n2\t] \n");
    ck_assert_uint_eq(vt_json_len(vt_json_root(d)), 2);
    vt_json_doc_free(d);
}
END_TEST

START_TEST(test_not_nul_terminated) {
    /* the parser reads exactly len bytes */
    const char text[] = "[1,2]garbage";
    vt_json_doc *d = NULL;
    ck_assert_int_eq(vt_json_parse(text, 5, NULL, &d, NULL, NULL), VT_OK);
    ck_assert_uint_eq(vt_json_len(vt_json_root(d)), 2);
    vt_json_doc_free(d);
    parse_fail_n("\"abc\"", 4, "unterminated string");
    parse_fail_n("12", 0, "empty input");
}
END_TEST

START_TEST(test_truncated) {
    parse_fail("", "empty input");
    parse_fail("   ", "empty input");
    parse_fail("[", "unexpected end of input");
    parse_fail("[1,", "unexpected end of input");
    parse_fail("[1", "unclosed array");
    parse_fail("{", "unexpected end of input");
    parse_fail("{\"a\"", "expected ':'");
    parse_fail("{\"a\":", "unexpected end of input");
    parse_fail("{\"a\":1", "unclosed object");
    parse_fail("{\"a\":1,", "unexpected end of input");
    ck_assert_uint_eq(parse_fail("[\"abc", "unterminated string"), 1);
    parse_fail("\"abc\\", "unterminated string");
    parse_fail("tru", "unexpected end of input in literal 'true'");
    parse_fail("-", "unexpected end of input in number");
    parse_fail("1.", "expected a digit after the decimal point");
    parse_fail("1e", "expected a digit in the exponent");
    parse_fail("1e+", "expected a digit in the exponent");
}
END_TEST

START_TEST(test_trailing_garbage) {
    ck_assert_uint_eq(parse_fail("{} x", "trailing characters after the JSON value"), 3);
    parse_fail("1 2", "trailing characters");
    parse_fail("[1]]", "trailing characters");
    parse_fail("nullnull", "trailing characters");
    parse_fail("\"a\"\x01", "trailing characters");
}
END_TEST

START_TEST(test_structure_errors) {
    parse_fail("[1,]", "trailing comma before ']'");
    parse_fail("{\"a\":1,}", "trailing comma before '}'");
    parse_fail("[1 2]", "expected ',' or ']'");
    parse_fail("{\"a\":1 \"b\":2}", "expected ',' or '}'");
    parse_fail("{a:1}", "expected a string key or '}'");
    parse_fail("{\"a\":1, 2:3}", "expected a string key");
    parse_fail("{\"a\" 1}", "expected ':'");
    parse_fail("[,]", "unexpected character ','");
    parse_fail("]", "unexpected character ']'");
    parse_fail("{\"a\":}", "expected a value");
    parse_fail("trux", "invalid literal (expected 'true')");
    parse_fail("nul", "literal 'null'");
    parse_fail("NaN", "unexpected character 'N'");
    parse_fail("Infinity", "unexpected character 'I'");
    parse_fail("'a'", "unexpected character '''");
    parse_fail("\x80", "unexpected byte 0x80");
}
END_TEST

START_TEST(test_bad_numbers) {
    parse_fail("01", "leading zeros");
    parse_fail("-01", "leading zeros");
    parse_fail("+1", "unexpected character '+'");
    parse_fail(".5", "unexpected character '.'");
    parse_fail("-a", "expected a digit after '-'");
    parse_fail("1.e5", "expected a digit after the decimal point");
    parse_fail("1e400", "out of range");
    parse_fail("-1e400", "out of range");
    parse_fail("0x10", "trailing characters");
    parse_fail("[1.5.2]", "expected ',' or ']'");
}
END_TEST

START_TEST(test_bad_strings) {
    ck_assert_uint_eq(parse_fail("[\"ab\\qc\"]", "invalid escape '\\q'"), 4);
    parse_fail("\"\\x41\"", "invalid escape '\\x'");
    parse_fail("\"\\u12\"", "expected 4 hex digits");
    parse_fail("\"\\u12G4\"", "expected 4 hex digits");
    ck_assert_uint_eq(parse_fail("\"a\\ud800\"", "lone high surrogate \\uD800"), 2);
    parse_fail("\"\\ud800\\u0041\"", "lone high surrogate");
    parse_fail("\"\\ud800x\"", "lone high surrogate");
    parse_fail("\"\\udc00\"", "lone low surrogate \\uDC00");
    ck_assert_uint_eq(parse_fail("\"ab\ncd\"", "unescaped control character 0x0a"), 3);
    parse_fail("\"\t\"", "unescaped control character 0x09");
    parse_fail_n("\"a\0b\"", 5, "unescaped control character 0x00");
    parse_fail("\"\xff\"", "invalid UTF-8 byte 0xff");
    parse_fail("\"\xc3\"", "invalid UTF-8");            /* truncated sequence */
    parse_fail("\"\xc0\xaf\"", "invalid UTF-8");        /* overlong */
    parse_fail("\"\xed\xa0\x80\"", "invalid UTF-8");    /* encoded surrogate */
    parse_fail("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* above U+10FFFF */
}
END_TEST

START_TEST(test_error_line_col) {
    vt_json_doc *d = NULL;
    vt_err err = {0};
    vt_json_loc loc;
    const char *text = "{\n  \"a\": 1,\n  \"b\": tru3\n}";
    ck_assert_int_eq(vt_json_parse(text, strlen(text), NULL, &d, &loc, &err), VT_EFORMAT);
    ck_assert_uint_eq(loc.line, 3);
    ck_assert_uint_eq(loc.col, 8);
    ck_assert_uint_eq(loc.offset, 19);
    ck_assert_msg(strstr(err.msg, "json:3:8: invalid literal (expected 'true') (byte 19)"), "%s", err.msg);
}
END_TEST

START_TEST(test_depth_limit) {
    /* A depth bomb is an error, not a stack overflow, however deep it goes. */
    size_t n = 1000000;
    char *bomb = malloc(2 * n);
    memset(bomb, '[', n);
    memset(bomb + n, ']', n);
    ck_assert_uint_eq(parse_fail_n(bomb, 2 * n, "nesting deeper than 512 levels"), 512);
    for (size_t i = 0; i < n; i++) bomb[i] = i % 2 ? '[' : '{';
    parse_fail_n(bomb, n, "expected a string key");
    free(bomb);
    /* exactly at the limit is fine; one more is not */
    char buf[64];
    vt_json_opts opts = {.max_depth = 4};
    vt_json_doc *d = NULL;
    strcpy(buf, "[[[[1]]]]");
    ck_assert_int_eq(vt_json_parse(buf, strlen(buf), &opts, &d, NULL, NULL), VT_OK);
    vt_json_doc_free(d);
    strcpy(buf, "[[[[[1]]]]]");
    vt_err err;
    ck_assert_int_eq(vt_json_parse(buf, strlen(buf), &opts, &d, NULL, &err), VT_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "nesting deeper than 4 levels"));
    /* default limit: 512 deep parses */
    char *deep = malloc(1024);
    memset(deep, '[', 512);
    memset(deep + 512, ']', 512);
    ck_assert_int_eq(vt_json_parse(deep, 1024, NULL, &d, NULL, NULL), VT_OK);
    vt_json_doc_free(d);
    free(deep);
}
END_TEST

START_TEST(test_duplicate_keys) {
    vt_json_doc *d = parse_ok("{\"a\":1,\"b\":2,\"a\":3}");
    const vt_json *root = vt_json_root(d);
    ck_assert_uint_eq(vt_json_len(root), 3); /* both kept */
    ck_assert_uint_eq(vt_json_object_find_duplicate(root), 2);
    ck_assert(vt_json_number(vt_json_get(root, "a")) == 1); /* first wins for lookup */
    vt_json_doc_free(d);
    d = parse_ok("{\"a\":1,\"ab\":2,\"b\":3}");
    ck_assert_uint_eq(vt_json_object_find_duplicate(vt_json_root(d)), SIZE_MAX);
    vt_json_doc_free(d);
    ck_assert_uint_eq(vt_json_object_find_duplicate(NULL), SIZE_MAX);

    /* the sorting path for large objects */
    vt_json_writer w;
    vt_json_writer_init(&w);
    vt_json_write_object_begin(&w);
    char key[32];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        vt_json_write_key(&w, key);
        vt_json_write_int(&w, i);
    }
    vt_json_write_key(&w, "k150");
    vt_json_write_int(&w, 0);
    vt_json_write_key(&w, "k7");
    vt_json_write_int(&w, 0);
    vt_json_write_object_end(&w);
    size_t len;
    const char *text = vt_json_writer_str(&w, &len);
    ck_assert_int_eq(vt_json_parse(text, len, NULL, &d, NULL, NULL), VT_OK);
    ck_assert_uint_eq(vt_json_object_find_duplicate(vt_json_root(d)), 200);
    vt_json_doc_free(d);
    vt_json_writer_free(&w);
}
END_TEST

START_TEST(test_large_array) {
    /* many elements: crosses arena blocks and the big-allocation path */
    size_t n = 300000;
    vt_json_writer w;
    vt_json_writer_init(&w);
    vt_json_write_array_begin(&w);
    for (size_t i = 0; i < n; i++) {
        if (i % 3 == 0) vt_json_write_int(&w, (int64_t)i);
        else if (i % 3 == 1) vt_json_write_double(&w, (double)i + 0.5);
        else vt_json_write_string(&w, "s");
    }
    vt_json_write_array_end(&w);
    ck_assert_int_eq(vt_json_writer_status(&w, NULL), VT_OK);
    size_t len;
    const char *text = vt_json_writer_str(&w, &len);
    vt_json_doc *d = NULL;
    ck_assert_int_eq(vt_json_parse(text, len, NULL, &d, NULL, NULL), VT_OK);
    const vt_json *root = vt_json_root(d);
    ck_assert_uint_eq(vt_json_len(root), n);
    for (size_t i = 0; i < n; i += 997) {
        const vt_json *v = vt_json_at(root, i);
        if (i % 3 == 0) ck_assert(vt_json_number(v) == (double)i);
        else if (i % 3 == 1) ck_assert(vt_json_number(v) == (double)i + 0.5);
        else ck_assert_str_eq(vt_json_string(v), "s");
    }
    vt_json_doc_free(d);
    vt_json_writer_free(&w);
}
END_TEST

START_TEST(test_parse_file) {
    char path[] = "/tmp/vt_json_test_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "{\"a\": [1, 2, 3]}\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    vt_json_doc *d = NULL;
    vt_err err;
    ck_assert_int_eq(vt_json_parse_file(path, NULL, &d, &err), VT_OK);
    ck_assert_uint_eq(vt_json_len(vt_json_get(vt_json_root(d), "a")), 3);
    vt_json_doc_free(d);
    /* errors name the path */
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, "[1,\n 2,,]", 9), 9);
    close(fd);
    ck_assert_int_eq(vt_json_parse_file(path, NULL, &d, &err), VT_EFORMAT);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, ":2:4: "), "%s", err.msg);
    unlink(path);
    ck_assert_int_eq(vt_json_parse_file(path, NULL, &d, &err), VT_EIO);
    ck_assert_msg(strstr(err.msg, "cannot open"), "%s", err.msg);
    ck_assert_int_eq(vt_json_parse_file("/tmp", NULL, &d, &err), VT_EIO);
    ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
}
END_TEST

START_TEST(test_writer_basic) {
    vt_json_writer w;
    vt_json_writer_init(&w);
    ck_assert_str_eq(vt_json_writer_str(&w, NULL), "");
    vt_json_write_object_begin(&w);
    vt_json_write_key(&w, "name");
    vt_json_write_string(&w, "vit");
    vt_json_write_key(&w, "shape");
    vt_json_write_array_begin(&w);
    vt_json_write_int(&w, 2);
    vt_json_write_int(&w, -3);
    vt_json_write_uint(&w, UINT64_MAX);
    vt_json_write_array_end(&w);
    vt_json_write_key(&w, "e");
    vt_json_write_array_begin(&w);
    vt_json_write_array_end(&w);
    vt_json_write_key(&w, "o");
    vt_json_write_object_begin(&w);
    vt_json_write_object_end(&w);
    vt_json_write_key(&w, "x");
    vt_json_write_double(&w, 0.1);
    vt_json_write_key(&w, "nan");
    vt_json_write_double(&w, NAN);
    vt_json_write_key(&w, "b");
    vt_json_write_bool(&w, true);
    vt_json_write_key(&w, "n");
    vt_json_write_null(&w);
    vt_json_write_key(&w, "raw");
    vt_json_write_raw_value(&w, "[1]", 3);
    vt_json_write_object_end(&w);
    ck_assert_int_eq(vt_json_writer_status(&w, NULL), VT_OK);
    ck_assert_str_eq(vt_json_writer_str(&w, NULL),
                     "{\"name\":\"vit\",\"shape\":[2,-3,18446744073709551615],\"e\":[],\"o\":{},\"x\":0.1,"
                     "\"nan\":null,\"b\":true,\"n\":null,\"raw\":[1]}");
    /* reset for the next JSONL record */
    vt_json_writer_reset(&w);
    vt_json_write_int(&w, 7);
    vt_json_write_bytes(&w, "\n", 1);
    ck_assert_str_eq(vt_json_writer_str(&w, NULL), "7\n");
    size_t len = 0;
    char *taken = vt_json_writer_take(&w, &len);
    ck_assert_str_eq(taken, "7\n");
    ck_assert_uint_eq(len, 2);
    free(taken);
    ck_assert_str_eq(vt_json_writer_str(&w, NULL), "");
    vt_json_writer_free(&w);
}
END_TEST

START_TEST(test_writer_escaping_round_trip) {
    char raw[300];
    size_t n = 0;
    for (int c = 1; c < 128; c++) raw[n++] = (char)c;
    memcpy(raw + n, "\0\xc3\xa9\xf0\x9f\x98\x80\"\\", 9);
    n += 9;
    vt_json_writer w;
    vt_json_writer_init(&w);
    vt_json_write_stringn(&w, raw, n);
    size_t len;
    const char *text = vt_json_writer_str(&w, &len);
    ck_assert_ptr_nonnull(strstr(text, "\\u0001"));
    ck_assert_ptr_nonnull(strstr(text, "\\n"));
    ck_assert_ptr_nonnull(strstr(text, "\\\""));
    for (size_t i = 0; i < len; i++) ck_assert((unsigned char)text[i] >= 0x20);
    vt_json_doc *d = NULL;
    ck_assert_int_eq(vt_json_parse(text, len, NULL, &d, NULL, NULL), VT_OK);
    ck_assert_uint_eq(vt_json_string_len(vt_json_root(d)), n);
    ck_assert(memcmp(vt_json_string(vt_json_root(d)), raw, n) == 0);
    vt_json_doc_free(d);
    vt_json_writer_free(&w);
}
END_TEST

START_TEST(test_writer_doubles_round_trip) {
    double vals[] = {0.1, 1.0 / 3.0, 1e300, -2.5e-300, 5e-324, 123456789.0, 1e21, -0.0, 0.30000000000000004};
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
        vt_json_writer w;
        vt_json_writer_init(&w);
        vt_json_write_double(&w, vals[k]);
        size_t len;
        const char *text = vt_json_writer_str(&w, &len);
        vt_json_doc *d = NULL;
        ck_assert_int_eq(vt_json_parse(text, len, NULL, &d, NULL, NULL), VT_OK);
        ck_assert_msg(vt_json_number(vt_json_root(d)) == vals[k], "%.17g written as %s", vals[k], text);
        vt_json_doc_free(d);
        vt_json_writer_free(&w);
    }
}
END_TEST

START_TEST(test_writer_misuse) {
    vt_json_writer w;
    vt_err err;
    vt_json_writer_init(&w);
    vt_json_write_object_begin(&w);
    vt_json_write_int(&w, 1); /* value without key */
    ck_assert_int_eq(vt_json_writer_status(&w, &err), VT_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "without a key"));
    ck_assert_ptr_null(vt_json_writer_take(&w, NULL));
    vt_json_writer_reset(&w);
    vt_json_write_key(&w, "k");
    ck_assert_int_eq(vt_json_writer_status(&w, &err), VT_ESTATE);
    vt_json_writer_reset(&w);
    vt_json_write_array_begin(&w);
    ck_assert_int_eq(vt_json_writer_status(&w, &err), VT_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "not complete"));
    vt_json_write_object_end(&w);
    ck_assert_int_eq(vt_json_writer_status(&w, &err), VT_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "unbalanced"));
    vt_json_writer_reset(&w);
    for (int i = 0; i < VT_JSON_WRITER_MAX_DEPTH + 1; i++) vt_json_write_array_begin(&w);
    ck_assert_int_eq(vt_json_writer_status(&w, &err), VT_EINVAL);
    vt_json_writer_reset(&w);
    vt_json_write_int(&w, 1);
    vt_json_write_int(&w, 2);
    ck_assert_int_eq(vt_json_writer_status(&w, &err), VT_ESTATE);
    vt_json_writer_free(&w);
}
END_TEST

VT_TEST_MAIN("json", test_scalars, test_numbers, test_nested_document, test_string_escapes,
             test_whitespace_and_bom, test_not_nul_terminated, test_truncated, test_trailing_garbage,
             test_structure_errors, test_bad_numbers, test_bad_strings, test_error_line_col, test_depth_limit,
             test_duplicate_keys, test_large_array, test_parse_file, test_writer_basic,
             test_writer_escaping_round_trip, test_writer_doubles_round_trip, test_writer_misuse)
