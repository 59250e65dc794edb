/* kv_server: a small key-value service on a named local endpoint, the
 * Listener / Client scenario of Python's multiprocessing.connection. Start
 * it by itself; kv_client (see kv_client.c) talks to it from other
 * programs, started separately, in either order. The same code on Linux
 * and Windows.
 *
 *   kv_server [NAME]     serves on the endpoint NAME (default "kv-demo")
 *
 * Each request and reply is one framed message (xipc_stream_send / recv,
 * the wire format of multiprocessing.connection's send_bytes/recv_bytes):
 *   "set KEY VALUE" -> "ok"        "get KEY" -> "ok VALUE" or "missing"
 *   "del KEY" -> "ok" or "missing" "keys"    -> "ok KEY KEY ..."
 * anything else -> "error ...". A client sends requests until it closes
 * the connection. The server serves one client at a time: another client's
 * connect succeeds at once and its requests are answered when the client
 * before it has left; a client that sends nothing for 10 s is dropped.
 *
 * On Linux a Python program is a client too (no authkey):
 *   from multiprocessing.connection import Client
 *   c = Client('\0xipc.kv-demo', family='AF_UNIX')
 *   c.send_bytes(b'get color'); print(c.recv_bytes())
 *
 * SIGTERM or Ctrl+C (SIGINT) stops it cleanly, also in the middle of a
 * client's session: it prints how many clients it served and exits 0. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xipc.h>

#define MAX_KEYS 64
#define KEY_MAX 32
#define VALUE_MAX 256
#define MSG_MAX 4096
#define IDLE_MS 10000 /* a client silent this long is dropped */
#define TICK_MS 200   /* how often the loops look at stop_signal */

static atomic_int stop_signal; /* the signal that asked us to stop, or 0 */

/* Runs on xipc's dispatcher thread, not in signal context. The listener
 * and the connection belong to the main thread, so the handler only sets a
 * flag that the main loop checks between its short waits. */
static void on_stop(int sig, void *arg) {
  (void)arg;
  atomic_store(&stop_signal, sig);
}

static int failed(const char *what, int err) {
  fprintf(stderr, "kv_server: %s: %s (%s)\n", what, xipc_strerror(err),
          xipc_err_name(err));
  return 1;
}

/* ---- the store ----------------------------------------------------------- */

typedef struct {
  char key[KEY_MAX + 1];
  char value[VALUE_MAX + 1];
} entry;

static entry store[MAX_KEYS];
static size_t nstore;

static entry *find(const char *key) {
  for (size_t i = 0; i < nstore; i++)
    if (strcmp(store[i].key, key) == 0)
      return &store[i];
  return NULL;
}

static void do_set(const char *key, const char *value, char *reply) {
  entry *e = find(key);
  if (strlen(key) > KEY_MAX || strlen(value) > VALUE_MAX) {
    strcpy(reply, "error key or value too long");
    return;
  }
  if (e == NULL && nstore == MAX_KEYS) {
    strcpy(reply, "error store full");
    return;
  }
  if (e == NULL)
    e = &store[nstore++];
  strcpy(e->key, key);
  strcpy(e->value, value);
  strcpy(reply, "ok");
}

static void do_get(const char *key, char *reply) {
  const entry *e = find(key);
  if (e == NULL)
    strcpy(reply, "missing");
  else
    snprintf(reply, MSG_MAX, "ok %s", e->value);
}

static void do_del(const char *key, char *reply) {
  entry *e = find(key);
  if (e == NULL) {
    strcpy(reply, "missing");
    return;
  }
  *e = store[--nstore];
  strcpy(reply, "ok");
}

static void do_keys(char *reply) {
  size_t n = strlen(strcpy(reply, "ok"));
  for (size_t i = 0; i < nstore && n < MSG_MAX; i++) /* 64 x 33 fit */
    n += (size_t)snprintf(reply + n, MSG_MAX - n, " %s", store[i].key);
}

/* Answers one request (NUL-terminated, changed in place) into reply. */
static void answer(char *req, char *reply) {
  char *verb = strtok(req, " ");
  char *key = strtok(NULL, " ");
  char *value = strtok(NULL, ""); /* the rest, spaces and all */
  if (verb != NULL && strcmp(verb, "set") == 0 && key != NULL && value != NULL)
    do_set(key, value, reply);
  else if (verb != NULL && strcmp(verb, "get") == 0 && key != NULL)
    do_get(key, reply);
  else if (verb != NULL && strcmp(verb, "del") == 0 && key != NULL)
    do_del(key, reply);
  else if (verb != NULL && strcmp(verb, "keys") == 0 && key == NULL)
    do_keys(reply);
  else
    strcpy(reply, "error unknown request (set KEY VALUE, get KEY, del KEY, "
                  "keys)");
}

/* ---- serving ------------------------------------------------------------- */

/* Serves one client until it leaves, falls silent or a stop signal comes. */
static void serve(xipc_stream *c, long long pid) {
  char req[MSG_MAX + 1], reply[MSG_MAX];
  int idle = 0;
  for (;;) {
    size_t len = 0;
    int rc = xipc_stream_recv(c, req, MSG_MAX, &len, TICK_MS);
    if (rc == XIPC_ETIMEDOUT) {
      if (atomic_load(&stop_signal) != 0)
        return;
      if ((idle += TICK_MS) < IDLE_MS)
        continue;
      printf("kv_server: client %lld silent for %d s, dropped\n", pid,
             IDLE_MS / 1000);
      return;
    }
    if (rc == XIPC_ECLOSED)
      printf("kv_server: client %lld left\n", pid);
    else if (rc == XIPC_EMSGSIZE)
      printf("kv_server: client %lld sent a request of %zu bytes, dropped\n",
             pid, len);
    else if (rc != 0)
      printf("kv_server: client %lld: %s\n", pid, xipc_err_name(rc));
    if (rc != 0)
      return;
    idle = 0;
    req[len] = '\0';
    printf("kv_server: client %lld: \"%s\"", pid, req);
    answer(req, reply);
    printf(" -> \"%s\"\n", reply);
    fflush(stdout);
    rc = xipc_stream_send(c, reply, strlen(reply), IDLE_MS);
    if (rc != 0) {
      printf("kv_server: client %lld: reply not sent: %s\n", pid,
             xipc_err_name(rc));
      return;
    }
  }
}

int main(int argc, char **argv) {
  const char *name = argc > 1 ? argv[1] : "kv-demo";
  long served = 0;
  xipc_listener *l;
  int rc;

  if ((rc = xipc_signal_handle(XIPC_SIGTERM, on_stop, NULL)) != 0 ||
      (rc = xipc_signal_handle(XIPC_SIGINT, on_stop, NULL)) != 0)
    return failed("signal handlers", rc);
  rc = xipc_listen(&l, name, NULL); /* owner-only by default */
  if (rc == XIPC_EEXIST)
    fprintf(stderr, "kv_server: another server is serving %s\n", name);
  if (rc != 0)
    return failed("listen", rc);
  printf("kv_server: pid %lld, serving %s\n", (long long)xipc_self_pid(), name);
  fflush(stdout);
  while (atomic_load(&stop_signal) == 0) {
    xipc_stream *c;
    xipc_pid pid = 0;
    rc = xipc_accept(l, &c, TICK_MS);
    if (rc == XIPC_ETIMEDOUT)
      continue;
    if (rc != 0)
      break;
    xipc_stream_peer_pid(c, &pid);
    printf("kv_server: client %lld connected\n", (long long)pid);
    fflush(stdout);
    serve(c, (long long)pid);
    xipc_stream_close(c);
    served++;
    fflush(stdout);
  }
  xipc_listener_close(l);
  if (rc != 0 && rc != XIPC_ETIMEDOUT)
    return failed("accept", rc);
  printf("kv_server: %s: stopping after %ld clients\n",
         xipc_signal_name(atomic_load(&stop_signal)), served);
  return 0;
}
