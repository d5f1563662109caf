/* ubsan_log_path.c -- linked into every target of a SANITIZE=ON build: sends
 * UndefinedBehaviorSanitizer's reports to UBSAN_OPTIONS' log_path.
 *
 * Why: with GCC, -fsanitize=address,undefined loads two runtimes (libasan,
 * libubsan), each with its own copy of the sanitizer common code.  libubsan's
 * call that applies log_path binds to libasan's copy, so UBSan's own report
 * file stays stderr whatever UBSAN_OPTIONS says (GCC bug 94328).  This calls
 * libubsan's copy directly, before main, so that a UB report lands in a file
 * beside ASan's and the suite's sanitizer_reports test sees it. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

__attribute__((constructor)) static void ubsan_log_path(void) {
    const char *opts = getenv("UBSAN_OPTIONS");
    const char *p = opts ? strstr(opts, "log_path=") : NULL;
    if (!p) return;
    p += strlen("log_path=");
    char path[4096];
    size_t n = strcspn(p, ":");
    if (n == 0 || n >= sizeof(path)) return;
    memcpy(path, p, n);
    path[n] = '\0';
    void *ubsan = dlopen("libubsan.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (!ubsan) return;
    void (*set_report_path)(const char *);
    *(void **)&set_report_path = dlsym(ubsan, "__sanitizer_set_report_path");
    if (set_report_path) set_report_path(path);
    dlclose(ubsan);
}
