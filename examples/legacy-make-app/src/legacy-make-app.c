/* legacy-make-app: a small daemon from a repository that only has a Makefile.
 * It reads its configuration file and writes a heartbeat line to stdout (the journal)
 * every `interval` seconds. `legacy-make-app --version` prints its version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef VERSION
#define VERSION "unknown"
#endif
#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

static int read_interval(const char *path) {
    FILE *f = fopen(path, "r");
    char line[256];
    int interval = 60;
    if (!f)
        return interval;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "interval=", 9) == 0)
            interval = atoi(line + 9);
    }
    fclose(f);
    return interval > 0 ? interval : 60;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("legacy-make-app %s\n", VERSION);
        return 0;
    }
    int interval = read_interval(SYSCONFDIR "/legacy-make-app/legacy-make-app.conf");
    for (;;) {
        printf("legacy-make-app %s alive\n", VERSION);
        fflush(stdout);
        sleep((unsigned)interval);
    }
}
