/*
 * A complete wause program in C: open a client, print its status, listen for events for a few
 * seconds, close.
 *
 *   cc status.c $(pkg-config --cflags --libs wause) -o status
 *   ./status [DATA_DIR] [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wause.h>

/* Builds the config JSON; a real program would escape the path with its JSON library. */
static int make_config(char *buffer, size_t size, const char *data_dir) {
    if (strpbrk(data_dir, "\"\\") != NULL) {
        fprintf(stderr, "data dir must not contain quotes or backslashes in this example\n");
        return -1;
    }
    snprintf(buffer, size, "{\"data_dir\": \"%s\", \"log_level\": \"warning\"}", data_dir);
    return 0;
}

int main(int argc, char **argv) {
    const char *data_dir = argc > 1 ? argv[1] : "./wause-data";
    int seconds = argc > 2 ? atoi(argv[2]) : 2;
    char config[4096];
    if (make_config(config, sizeof config, data_dir) != 0) return 2;

    printf("libwause %s\n", wause_version());

    char *error = NULL;
    wause_client *client = wause_client_create(config, &error);
    if (client == NULL) {
        fprintf(stderr, "cannot open a client: %s\n", error);
        wause_free(error);
        return 1;
    }

    char *status = NULL;
    int rc = wause_call(client, "whatsapp_status", NULL, &status);
    printf("whatsapp_status -> %s: %s\n", wause_result_name(rc), status);
    wause_free(status);
    if (rc != WAUSE_OK) {
        wause_client_destroy(client);
        return 1;
    }

    /* Events (and answers to wause_send calls) arrive through wause_receive. */
    printf("listening for events for %d s...\n", seconds);
    time_t until = time(NULL) + seconds;
    while (time(NULL) < until) {
        char *item = wause_receive(client, 250);
        if (item != NULL) {
            printf("event: %s\n", item);
            wause_free(item);
        }
    }

    wause_client_destroy(client);
    printf("closed\n");
    return 0;
}
