#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>
#include <microhttpd.h>

/*
 * MHD_start_daemon is C-variadic, which Swift cannot call. This shim fixes the option list we use:
 * the listen address (an IPv4 or IPv6 literal), the completion callback that frees per-request
 * state, and a cap on simultaneous connections. Returns NULL if the address does not parse or the
 * daemon cannot start (port in use, ...).
 */
static inline struct MHD_Daemon *wause_mhd_start(unsigned int flags, const char *host, uint16_t port,
                                                  MHD_AccessHandlerCallback handler, void *handler_cls,
                                                  MHD_RequestCompletedCallback completed, void *completed_cls,
                                                  unsigned int connection_limit) {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    const struct sockaddr *addr;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (inet_pton(AF_INET, host, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(port);
        addr = (const struct sockaddr *)&v4;
    } else if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(port);
        addr = (const struct sockaddr *)&v6;
        flags |= MHD_USE_IPv6;
    } else {
        return NULL;
    }
    return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_SOCK_ADDR, addr,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                            MHD_OPTION_CONNECTION_LIMIT, connection_limit,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)0,
                            MHD_OPTION_END);
}

/* The port the daemon listens on (useful with port 0). */
static inline uint16_t wause_mhd_bound_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

/* Macros with casts do not import into Swift. */
static const ssize_t wause_mhd_end_of_stream = MHD_CONTENT_READER_END_OF_STREAM;
static const ssize_t wause_mhd_end_with_error = MHD_CONTENT_READER_END_WITH_ERROR;
static const uint64_t wause_mhd_size_unknown = MHD_SIZE_UNKNOWN;
