/*
 * Built and run by crash_report_test.go: crash_report.c's local_functions
 * finds functions a program keeps out of its dynamic symbols (as CPython
 * 3.9 and 3.13 keep faulthandler's dump functions) when they are in the
 * program itself, as in gowsgi-daemon-X.Y, whose argv[0] is the daemon's
 * title. Prints "found" and exits 0 when both are found where they are.
 */
#include <stdio.h>

#include "../crash_report.c"

__attribute__((noinline)) static int hidden_one(int x) { return x * 3; }
__attribute__((noinline)) static int hidden_two(int x) { return x * 5; }

int main(int argc, char **argv)
{
    (void)argc;
    /* As the shim writes the title over the launcher's argv[0]. */
    size_t room = strlen(argv[0]);
    memset(argv[0], ' ', room);
    memcpy(argv[0], "(wsgi:g1)", room < 9 ? room : 9);
    static const char *const names[] = {"hidden_one", "hidden_two"};
    void *found[2] = {NULL, NULL};
    local_functions((void *)hidden_one, names, found, 2);
    if (found[0] != (void *)hidden_one || found[1] != (void *)hidden_two || hidden_one(1) + hidden_two(1) != 8) {
        printf("not found: %p %p\n", found[0], found[1]);
        return 1;
    }
    printf("found\n");
    return 0;
}
