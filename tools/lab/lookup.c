/* One getaddrinfo() call, as a program linked with musl (or glibc) makes it: the lab's dns-musl client.
 * Build: musl-gcc -static -O2 -o lookup lookup.c. Prints one line per address and exits 0, or the error and 2. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: lookup NAME\n");
        return 2;
    }
    struct addrinfo hints, *res, *p;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(argv[1], "80", &hints, &res);
    if (rc != 0) {
        printf("error %s\n", gai_strerror(rc));
        return 2;
    }
    for (p = res; p; p = p->ai_next) {
        char buf[64];
        void *addr = p->ai_family == AF_INET ? (void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr
                                             : (void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr;
        inet_ntop(p->ai_family, addr, buf, sizeof buf);
        printf("%s\n", buf);
    }
    freeaddrinfo(res);
    return 0;
}
