/* kv_client: a client of kv_server (see there), a program you start by
 * itself, before or after the server. The same code on Linux and Windows.
 *
 *   kv_client [-n NAME] REQUEST...   sends each REQUEST (one argument, e.g.
 *                                    "set color blue") to the server on the
 *                                    endpoint NAME (default "kv-demo") and
 *                                    prints its reply
 *   kv_client [-n NAME]              reads requests from stdin, one a line
 *
 * The connect waits up to 30 s for a server to appear (XIPC_CONNECT_WAIT),
 * so the two may be started in either order; the server is served to this
 * user only, and a server of another user is refused (XIPC_EACCES). Exit
 * status 0 when every request got a reply, 1 otherwise. Stopping it with
 * Ctrl+C or SIGTERM (their default action) is harmless: the server sees the
 * connection end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xipc.h>

#define MSG_MAX 4096
#define WAIT_MS 10000         /* for each request's send and reply */
#define CONNECT_WAIT_MS 30000 /* for a server to appear */

static int failed(const char *what, int err) {
  fprintf(stderr, "kv_client: %s: %s (%s)\n", what, xipc_strerror(err),
          xipc_err_name(err));
  return 1;
}

/* Sends one request and prints the reply. */
static int ask(xipc_stream *s, const char *req) {
  char reply[MSG_MAX + 1];
  size_t len = 0;
  int rc = xipc_stream_send(s, req, strlen(req), WAIT_MS);
  if (rc != 0)
    return failed("send", rc);
  rc = xipc_stream_recv(s, reply, MSG_MAX, &len, WAIT_MS);
  if (rc != 0)
    return failed("recv", rc);
  reply[len] = '\0';
  printf("kv_client: \"%s\" -> \"%s\"\n", req, reply);
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  const char *name = "kv-demo";
  xipc_stream *s;
  xipc_pid server = 0;
  int first = 1, bad = 0;

  if (argc > 2 && strcmp(argv[1], "-n") == 0) {
    name = argv[2];
    first = 3;
  }
  int rc = xipc_connect_ex(&s, name, XIPC_CONNECT_WAIT, CONNECT_WAIT_MS);
  if (rc == XIPC_ENOENT)
    fprintf(stderr, "kv_client: no server on %s after %d s\n", name,
            CONNECT_WAIT_MS / 1000);
  if (rc != 0)
    return failed("connect", rc);
  xipc_stream_peer_pid(s, &server);
  printf("kv_client: pid %lld, connected to %s (server pid %lld)\n",
         (long long)xipc_self_pid(), name, (long long)server);
  fflush(stdout);
  for (int i = first; i < argc && !bad; i++)
    bad = ask(s, argv[i]);
  if (first == argc) { /* no requests on the command line: read stdin */
    char line[MSG_MAX];
    while (!bad && fgets(line, sizeof line, stdin) != NULL) {
      line[strcspn(line, "\r\n")] = '\0';
      if (line[0] != '\0')
        bad = ask(s, line);
    }
  }
  xipc_stream_close(s);
  return bad;
}
