/* fuzz_jansson.c -- LLVMFuzzerInitialize for the targets that use jansson.
 *
 * jansson seeds its hash tables from /dev/urandom once per process; a fixed
 * seed makes a run repeat exactly (the same input, the same path), which is
 * what a fuzzer's crash reproduction needs.  Linked into fuzz_intent,
 * fuzz_alpaca and fuzz_sim_request by tests/fuzz/CMakeLists.txt. */
#include <jansson.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    json_object_seed(0x6f772d66);
    return 0;
}
