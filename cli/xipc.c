/* xipc: list, inspect, remove and sweep this user's named xipc objects,
 * put and get queue messages, send signals, dump mappings. Uses only the
 * public API (xipc.h). See cli/xipc.1 for the manual.
 *
 * Exit status: 0 success; 1 an xipc call failed (its XIPC_E* name and
 * message on stderr); 2 a usage error (one line on stderr). */
#include <xipc.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#endif

#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* ---- output helpers --------------------------------------------------------
 */

/* Binary stdio everywhere: what get --raw and cat write is the bytes, and
 * every line ends in "\n" (Windows' CRT would write "\r\n"). */
static void stdio_binary(void) {
#ifdef _WIN32
  _setmode(_fileno(stdin), _O_BINARY);
  _setmode(_fileno(stdout), _O_BINARY);
  _setmode(_fileno(stderr), _O_BINARY);
#endif
}

static int usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "xipc%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see 'xipc %s%s--help')\n", cmd ? cmd : "", cmd ? " " : "");
  return EXIT_USAGE;
}

static int failure(const char *cmd, const char *what, int rc) {
  fprintf(stderr, "xipc %s: %s: %s: %s\n", cmd, what, xipc_err_name(rc),
          xipc_strerror(rc));
  return EXIT_FAIL;
}

static int write_out(const void *p, size_t n) {
  if (n > 0 && fwrite(p, 1, n, stdout) != n)
    return -1;
  return 0;
}

/* ---- arguments --------------------------------------------------------------
 */

/* One subcommand's command line: positional arguments and the value of each
 * option it knows. Options may come anywhere; "--" ends them. */
typedef struct {
  const char *name; /* "--timeout" */
  bool takes_value;
  bool seen;
  const char *value;
} opt;

typedef struct {
  const char *cmd;
  const char *pos[4];
  int npos;
} parsed;

static opt *find_opt(opt *opts, const char *arg, size_t len) {
  for (opt *o = opts; o->name != NULL; o++)
    if (strlen(o->name) == len && strncmp(o->name, arg, len) == 0)
      return o;
  return NULL;
}

/* 0, or EXIT_USAGE after printing why. max_pos positional arguments at
 * most; min_pos at least. */
static int parse_args(parsed *p, opt *opts, int argc, char **argv, int min_pos,
                      int max_pos) {
  bool options = true;
  p->npos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (options && strcmp(a, "--") == 0) {
      options = false;
      continue;
    }
    if (options && a[0] == '-' && a[1] == '-') {
      const char *eq = strchr(a, '=');
      size_t len = eq ? (size_t)(eq - a) : strlen(a);
      opt *o = find_opt(opts, a, len);
      if (o == NULL)
        return usage_error(p->cmd, "unknown option '%.*s'", (int)len, a);
      if (o->seen)
        return usage_error(p->cmd, "option %s given twice", o->name);
      o->seen = true;
      if (!o->takes_value && eq != NULL)
        return usage_error(p->cmd, "option %s takes no value", o->name);
      if (o->takes_value) {
        if (eq != NULL)
          o->value = eq + 1;
        else if (i + 1 < argc)
          o->value = argv[++i];
        else
          return usage_error(p->cmd, "option %s needs a value", o->name);
      }
      continue;
    }
    if (options && a[0] == '-' && a[1] != '\0')
      return usage_error(p->cmd, "unknown option '%s'", a);
    if (p->npos == max_pos)
      return usage_error(p->cmd, "unexpected argument '%s'", a);
    p->pos[p->npos++] = a;
  }
  if (p->npos < min_pos)
    return usage_error(p->cmd, "missing argument");
  return 0;
}

/* A whole decimal number in [lo, hi]. */
static bool parse_ll(const char *s, long long lo, long long hi, long long *v) {
  char *end;
  if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
    return false;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0' || x < lo || x > hi)
    return false;
  *v = x;
  return true;
}

static int parse_timeout(const parsed *p, const opt *o, int dflt, int *ms) {
  long long v;
  *ms = dflt;
  if (!o->seen)
    return 0;
  if (!parse_ll(o->value, -1, INT_MAX, &v))
    return usage_error(p->cmd,
                       "--timeout wants milliseconds (-1: forever), not '%s'",
                       o->value);
  *ms = (int)v;
  return 0;
}

static int parse_kind(const parsed *p, const opt *o, int *kind) {
  *kind = 0;
  if (!o->seen)
    return 0;
  *kind = xipc_object_kind_parse(o->value);
  if (*kind == 0)
    return usage_error(p->cmd,
                       "unknown kind '%s' (mapping, queue, semaphore, "
                       "mutex, persistent-queue, listener)",
                       o->value);
  return 0;
}

static int check_name(const parsed *p, const char *name) {
  if (xipc_name_check(name) != 0)
    return usage_error(p->cmd, "'%s' is not a valid object name", name);
  return 0;
}

/* ---- help ------------------------------------------------------------------
 */

typedef struct {
  const char *name;
  const char *synopsis;
  const char *text;
  int (*run)(parsed *p, int argc, char **argv);
} command;

static const command *find_command(const char *name);

static void print_help(const command *c) {
  printf("usage: xipc %s\n\n%s", c->synopsis, c->text);
}

/* True when argv asks for help (the command's --help anywhere before "--"). */
static bool wants_help(int argc, char **argv) {
  for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
      return true;
  return false;
}

/* ---- ls and stat ------------------------------------------------------------
 */

static int64_t now_ms(void) { return (int64_t)time(NULL) * 1000; }

static void format_age(char *buf, size_t cap, int64_t created_ms) {
  if (created_ms <= 0) {
    snprintf(buf, cap, "-");
    return;
  }
  int64_t s = (now_ms() - created_ms) / 1000;
  if (s < 0)
    s = 0;
  if (s < 120)
    snprintf(buf, cap, "%llds", (long long)s);
  else if (s < 7200)
    snprintf(buf, cap, "%lldm", (long long)(s / 60));
  else if (s < 172800)
    snprintf(buf, cap, "%lldh", (long long)(s / 3600));
  else
    snprintf(buf, cap, "%lldd", (long long)(s / 86400));
}

static void format_holders(char *buf, size_t cap, const xipc_object_info *o) {
  size_t used = 0, shown = o->nholders;
  if (!o->holders_known) {
    snprintf(buf, cap, "?");
    return;
  }
  if (o->nholders == 0) {
    snprintf(buf, cap, "-");
    return;
  }
  if (shown > XIPC_OBJECT_HOLDERS_MAX)
    shown = XIPC_OBJECT_HOLDERS_MAX;
  buf[0] = '\0';
  for (size_t i = 0; i < shown && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? "," : "",
                             (long long)o->holders[i]);
  if (o->nholders > shown && used < cap)
    snprintf(buf + used, cap - used, ",+%zu", o->nholders - shown);
}

static const char *state_of(const xipc_object_info *o) {
  if (o->stale)
    return "stale";
  if (!o->holders_known)
    return "unknown";
  return o->nholders > 0 ? "live" : "idle";
}

/* Names are portable names ([A-Za-z0-9._-]); escaping is for safety. */
static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void json_object(const xipc_object_info *o) {
  printf("{\"name\":");
  json_string(o->name);
  printf(",\"kind\":\"%s\",\"managed\":%s,\"size\":%llu,\"creator\":%lld,"
         "\"created_ms\":%lld,\"holders_known\":%s,\"nholders\":%zu,"
         "\"holders\":[",
         xipc_object_kind_name(o->kind), o->managed ? "true" : "false",
         (unsigned long long)o->size, (long long)o->creator,
         (long long)o->created_ms, o->holders_known ? "true" : "false",
         o->nholders);
  size_t shown = o->nholders < XIPC_OBJECT_HOLDERS_MAX
                     ? o->nholders
                     : XIPC_OBJECT_HOLDERS_MAX;
  for (size_t i = 0; i < shown; i++)
    printf("%s%lld", i ? "," : "", (long long)o->holders[i]);
  printf("],\"stale\":%s", o->stale ? "true" : "false");
}

static void print_table(const xipc_object_info *v, size_t n) {
  printf("%-16s %-32s %12s %8s %6s %-8s %s\n", "KIND", "NAME", "SIZE",
         "CREATOR", "AGE", "STATE", "HOLDERS");
  for (size_t i = 0; i < n; i++) {
    char age[16], holders[XIPC_OBJECT_HOLDERS_MAX * 21 + 32], creator[24];
    format_age(age, sizeof age, v[i].created_ms);
    format_holders(holders, sizeof holders, &v[i]);
    if (v[i].creator > 0)
      snprintf(creator, sizeof creator, "%lld", (long long)v[i].creator);
    else
      snprintf(creator, sizeof creator, "-");
    printf("%-16s %-32s %12llu %8s %6s %-8s %s\n",
           xipc_object_kind_name(v[i].kind), v[i].name,
           (unsigned long long)v[i].size, creator, age, state_of(&v[i]),
           holders);
  }
}

/* {"<key>":[ one object per line ]} for ls and sweep --json. */
static void print_json_list(const char *key, const xipc_object_info *v,
                            size_t n) {
  printf("{\"%s\":[", key);
  for (size_t i = 0; i < n; i++) {
    printf(i ? ",\n" : "\n");
    json_object(&v[i]);
    putchar('}');
  }
  printf("\n]}\n");
}

static int cmd_ls(parsed *p, int argc, char **argv) {
  opt opts[] = {{"--json", false, false, NULL}, {NULL, false, false, NULL}};
  int rc = parse_args(p, opts, argc, argv, 0, 0);
  if (rc != 0)
    return rc;
  xipc_object_info *v;
  size_t n;
  rc = xipc_objects_list(&v, &n);
  if (rc != 0)
    return failure(p->cmd, "listing", rc);
  if (opts[0].seen) {
    print_json_list("objects", v, n);
  } else {
    print_table(v, n);
  }
  xipc_objects_free(v);
  return 0;
}

static bool is_queue(int kind) {
  return kind == XIPC_OBJ_QUEUE || kind == XIPC_OBJ_PERSISTENT_QUEUE;
}

/* A queue's xipc_queue_info, through a handle that only looks (it takes a
 * producer ring only at a put, which it never makes). */
static int queue_info(const char *name, struct xipc_queue_info *qi) {
  xipc_queue *q;
  int rc = xipc_queue_open(&q, name, NULL, 0);
  if (rc != 0)
    return rc;
  rc = xipc_queue_info(q, qi);
  xipc_queue_close(q);
  return rc;
}

static void print_stat_text(const xipc_object_info *o) {
  char age[16], holders[XIPC_OBJECT_HOLDERS_MAX * 21 + 32];
  format_age(age, sizeof age, o->created_ms);
  format_holders(holders, sizeof holders, o);
  printf("name: %s\nkind: %s\nmanaged: %s\nsize: %llu\ncreator: %lld\n"
         "created_ms: %lld\nage: %s\nholders: %s\nnholders: %zu\nstate: %s\n",
         o->name, xipc_object_kind_name(o->kind), o->managed ? "yes" : "no",
         (unsigned long long)o->size, (long long)o->creator,
         (long long)o->created_ms, age, holders, o->nholders, state_of(o));
}

static int cmd_stat(parsed *p, int argc, char **argv) {
  opt opts[] = {{"--json", false, false, NULL},
                {"--kind", true, false, NULL},
                {NULL, false, false, NULL}};
  int rc = parse_args(p, opts, argc, argv, 1, 1), kind;
  if (rc == 0)
    rc = check_name(p, p->pos[0]);
  if (rc == 0)
    rc = parse_kind(p, &opts[1], &kind);
  if (rc != 0)
    return rc;
  xipc_object_info o;
  rc = xipc_object_stat(p->pos[0], kind, &o);
  if (rc != 0)
    return failure(p->cmd, p->pos[0], rc);
  struct xipc_queue_info qi;
  /* Opening a stale queue would reclaim it (the lifetime rule): stat
   * reports a stale one as it is, without opening it. */
  int qrc = is_queue(o.kind) && !o.stale ? queue_info(o.name, &qi) : 1;
  if (opts[0].seen) {
    json_object(&o);
    if (qrc == 0)
      printf(",\"queue\":{\"capacity\":%zu,\"max_message\":%zu,"
             "\"max_producers\":%zu,\"producers\":%zu,\"count\":%zu,"
             "\"bytes\":%zu,\"unfinished\":%zu,\"closed\":%s,"
             "\"persistent\":%s}",
             qi.capacity, qi.max_message, qi.max_producers, qi.producers,
             qi.count, qi.bytes, qi.unfinished, qi.closed ? "true" : "false",
             qi.persistent ? "true" : "false");
    printf("}\n");
  } else {
    print_stat_text(&o);
    if (qrc == 0)
      printf("queue.capacity: %zu\nqueue.max_message: %zu\n"
             "queue.max_producers: %zu\nqueue.producers: %zu\n"
             "queue.count: %zu\nqueue.bytes: %zu\nqueue.unfinished: %zu\n"
             "queue.closed: %s\nqueue.persistent: %s\n",
             qi.capacity, qi.max_message, qi.max_producers, qi.producers,
             qi.count, qi.bytes, qi.unfinished, qi.closed ? "yes" : "no",
             qi.persistent ? "yes" : "no");
  }
  if (qrc < 0)
    fprintf(stderr, "xipc stat: %s: queue details: %s: %s\n", o.name,
            xipc_err_name(qrc), xipc_strerror(qrc));
  return 0;
}

/* ---- rm and sweep
 * ------------------------------------------------------------ */

static int cmd_rm(parsed *p, int argc, char **argv) {
  opt opts[] = {{"--force", false, false, NULL},
                {"--kind", true, false, NULL},
                {NULL, false, false, NULL}};
  int rc = parse_args(p, opts, argc, argv, 1, 1), kind;
  if (rc == 0)
    rc = check_name(p, p->pos[0]);
  if (rc == 0)
    rc = parse_kind(p, &opts[1], &kind);
  if (rc != 0)
    return rc;
  rc =
      xipc_object_remove(p->pos[0], kind, opts[0].seen ? XIPC_REMOVE_FORCE : 0);
  if (rc == XIPC_EBUSY)
    fprintf(stderr,
            "xipc rm: %s: %s: %s (processes hold it; --force "
            "removes the name anyway)\n",
            p->pos[0], xipc_err_name(rc), xipc_strerror(rc));
  else if (rc != 0)
    return failure(p->cmd, p->pos[0], rc);
  return rc == 0 ? 0 : EXIT_FAIL;
}

static int cmd_sweep(parsed *p, int argc, char **argv) {
  opt opts[] = {{"--json", false, false, NULL}, {NULL, false, false, NULL}};
  int rc = parse_args(p, opts, argc, argv, 0, 0);
  if (rc != 0)
    return rc;
  xipc_object_info *v;
  size_t n;
  rc = xipc_objects_sweep(&v, &n);
  if (rc != 0)
    return failure(p->cmd, "sweeping", rc);
  if (opts[0].seen) {
    print_json_list("removed", v, n);
  } else {
    for (size_t i = 0; i < n; i++)
      printf("removed %s %s\n", xipc_object_kind_name(v[i].kind), v[i].name);
  }
  xipc_objects_free(v);
  return 0;
}

/* ---- put and get
 * --------------------------------------------------------------- */

/* Reads all of stdin into a new buffer. */
static int read_stdin(char **buf, size_t *len) {
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  if (b == NULL)
    return XIPC_ENOMEM;
  for (;;) {
    if (n == cap) {
      char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(b, cap * 2);
      if (nb == NULL) {
        free(b);
        return XIPC_ENOMEM;
      }
      b = nb;
      cap *= 2;
    }
    size_t got = fread(b + n, 1, cap - n, stdin);
    n += got;
    if (got == 0)
      break;
  }
  if (ferror(stdin)) {
    free(b);
    return XIPC_EIO;
  }
  *buf = b;
  *len = n;
  return 0;
}

static int put_lines(xipc_queue *q, const char *b, size_t n, int timeout,
                     size_t *sent) {
  size_t start = 0;
  while (start < n) {
    const char *nl = memchr(b + start, '\n', n - start);
    size_t end = nl ? (size_t)(nl - b) : n, len = end - start;
    if (len > 0 && b[end - 1] == '\r') /* a Windows text file's line */
      len--;
    int rc = xipc_queue_put(q, b + start, len, timeout);
    if (rc != 0)
      return rc;
    (*sent)++;
    start = end + 1;
  }
  return 0;
}

static int cmd_put(parsed *p, int argc, char **argv) {
  opt opts[] = {{"--lines", false, false, NULL},
                {"--timeout", true, false, NULL},
                {NULL, false, false, NULL}};
  int rc = parse_args(p, opts, argc, argv, 2, 2), timeout;
  if (rc == 0)
    rc = check_name(p, p->pos[0]);
  if (rc == 0)
    rc = parse_timeout(p, &opts[1], -1, &timeout);
  if (rc == 0 && opts[0].seen && strcmp(p->pos[1], "-") != 0)
    rc = usage_error(p->cmd,
                     "--lines reads standard input: give '-' as the message");
  if (rc != 0)
    return rc;
  char *data = NULL;
  size_t len = 0, sent = 0;
  bool from_stdin = strcmp(p->pos[1], "-") == 0;
  if (from_stdin && (rc = read_stdin(&data, &len)) != 0)
    return failure(p->cmd, "reading standard input", rc);
  xipc_queue *q;
  rc = xipc_queue_open(&q, p->pos[0], NULL, 0);
  if (rc != 0) {
    free(data);
    return failure(p->cmd, p->pos[0], rc);
  }
  if (opts[0].seen)
    rc = put_lines(q, data, len, timeout, &sent);
  else if (from_stdin)
    rc = xipc_queue_put(q, data, len, timeout);
  else
    rc = xipc_queue_put(q, p->pos[1], strlen(p->pos[1]), timeout);
  xipc_queue_close(q);
  free(data);
  if (rc != 0 && opts[0].seen)
    fprintf(stderr, "xipc put: %zu line(s) put before the failure\n", sent);
  return rc == 0 ? 0 : failure(p->cmd, p->pos[0], rc);
}

/* Text output: one line per message, with backslash, control bytes and
 * bytes from 0x7f on written as \\ and \xNN, so that every message is one
 * line whatever it holds. */
static int write_escaped(const unsigned char *m, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int rc;
    if (m[i] == '\\')
      rc = fputs("\\\\", stdout);
    else if (m[i] < 0x20 || m[i] >= 0x7f)
      rc = printf("\\x%02x", m[i]);
    else
      rc = putchar(m[i]);
    if (rc < 0)
      return -1;
  }
  return putchar('\n') < 0 ? -1 : 0;
}

static int get_messages(xipc_queue *q, long long count, int timeout, bool raw,
                        size_t cap) {
  unsigned char *buf = malloc(cap ? cap : 1);
  if (buf == NULL)
    return XIPC_ENOMEM;
  int rc = 0;
  for (long long i = 0; i < count && rc == 0; i++) {
    size_t len = 0;
    rc = xipc_queue_get(q, buf, cap, &len, timeout);
    if (rc == XIPC_EMSGSIZE) { /* larger than max_message said: grow */
      unsigned char *nb = realloc(buf, len);
      if (nb == NULL) {
        rc = XIPC_ENOMEM;
        break;
      }
      buf = nb;
      cap = len;
      i--;
      rc = 0;
      continue;
    }
    if (rc == 0 && (raw ? write_out(buf, len) : write_escaped(buf, len)) != 0)
      rc = XIPC_EIO;
    fflush(stdout);
  }
  free(buf);
  return rc;
}

static int cmd_get(parsed *p, int argc, char **argv) {
  opt opts[] = {{"--timeout", true, false, NULL},
                {"--count", true, false, NULL},
                {"--raw", false, false, NULL},
                {NULL, false, false, NULL}};
  int rc = parse_args(p, opts, argc, argv, 1, 1), timeout;
  long long count = 1;
  if (rc == 0)
    rc = check_name(p, p->pos[0]);
  if (rc == 0)
    rc = parse_timeout(p, &opts[0], -1, &timeout);
  if (rc == 0 && opts[1].seen && !parse_ll(opts[1].value, 1, LLONG_MAX, &count))
    rc = usage_error(p->cmd,
                     "--count wants a number of messages (1 or more), "
                     "not '%s'",
                     opts[1].value);
  if (rc != 0)
    return rc;
  xipc_queue *q;
  struct xipc_queue_info qi;
  rc = xipc_queue_open(&q, p->pos[0], NULL, 0);
  if (rc != 0)
    return failure(p->cmd, p->pos[0], rc);
  rc = xipc_queue_info(q, &qi);
  if (rc == 0)
    rc = get_messages(q, count, timeout, opts[2].seen, qi.max_message);
  xipc_queue_close(q);
  return rc == 0 ? 0 : failure(p->cmd, p->pos[0], rc);
}

/* ---- send ------------------------------------------------------------------
 */

typedef struct {
  const char *name;
  int sig;
  int number; /* the Linux number, accepted on every platform */
} sig_name;

static const sig_name signals[] = {
    {"HUP", XIPC_SIGHUP, 1},    {"INT", XIPC_SIGINT, 2},
    {"QUIT", XIPC_SIGBREAK, 3}, {"BREAK", XIPC_SIGBREAK, 3},
    {"KILL", XIPC_SIGKILL, 9},  {"USR1", XIPC_SIGUSR1, 10},
    {"USR2", XIPC_SIGUSR2, 12}, {"ALRM", XIPC_SIGALRM, 14},
    {"TERM", XIPC_SIGTERM, 15}};
#define NSIGNALS (sizeof signals / sizeof signals[0])

static int parse_signal(const char *s) {
  long long num;
  if (parse_ll(s, 1, 64, &num)) {
    for (size_t i = 0; i < NSIGNALS; i++)
      if (signals[i].number == num)
        return signals[i].sig;
    return 0;
  }
  char up[16];
  size_t n = strlen(s);
  if (n >= sizeof up)
    return 0;
  for (size_t i = 0; i <= n; i++)
    up[i] = (char)toupper((unsigned char)s[i]);
  const char *bare = strncmp(up, "SIG", 3) == 0 ? up + 3 : up;
  for (size_t i = 0; i < NSIGNALS; i++)
    if (strcmp(bare, signals[i].name) == 0)
      return signals[i].sig;
  return 0;
}

static int cmd_send(parsed *p, int argc, char **argv) {
  opt opts[] = {{NULL, false, false, NULL}};
  int rc = parse_args(p, opts, argc, argv, 2, 2);
  if (rc != 0)
    return rc;
  long long pid;
  if (!parse_ll(p->pos[0], 1, LLONG_MAX, &pid))
    return usage_error(p->cmd, "'%s' is not a process id", p->pos[0]);
  int sig = parse_signal(p->pos[1]);
  if (sig == 0)
    return usage_error(p->cmd,
                       "unknown signal '%s' (HUP INT QUIT/BREAK KILL "
                       "USR1 USR2 ALRM TERM, with or without SIG, or their "
                       "numbers)",
                       p->pos[1]);
  rc = xipc_signal_send((xipc_pid)pid, sig);
  return rc == 0 ? 0 : failure(p->cmd, p->pos[0], rc);
}

/* ---- cat -------------------------------------------------------------------
 */

static int write_hex(const unsigned char *d, size_t n) {
  for (size_t off = 0; off < n; off += 16) {
    size_t k = n - off < 16 ? n - off : 16;
    printf("%08zx ", off);
    for (size_t i = 0; i < 16; i++) {
      if (i == 8)
        putchar(' ');
      if (i < k)
        printf(" %02x", d[off + i]);
      else
        printf("   ");
    }
    printf("  |");
    for (size_t i = 0; i < k; i++)
      putchar(d[off + i] >= 0x20 && d[off + i] < 0x7f ? d[off + i] : '.');
    if (printf("|\n") < 0)
      return -1;
  }
  return 0;
}

static int cmd_cat(parsed *p, int argc, char **argv) {
  opt opts[] = {{"--hex", false, false, NULL}, {NULL, false, false, NULL}};
  int rc = parse_args(p, opts, argc, argv, 1, 1);
  if (rc == 0)
    rc = check_name(p, p->pos[0]);
  if (rc != 0)
    return rc;
  xipc_object_info o;
  /* Opening a stale mapping would reclaim it: report it instead, so that
   * the bytes a crash left stay until rm or sweep. */
  if (xipc_object_stat(p->pos[0], 0, &o) == 0 && o.stale) {
    fprintf(stderr,
            "xipc cat: %s: %s: %s (stale: its holders died; "
            "'xipc rm' or 'xipc sweep' removes it)\n",
            p->pos[0], xipc_err_name(XIPC_EOWNERDEAD),
            xipc_strerror(XIPC_EOWNERDEAD));
    return EXIT_FAIL;
  }
  xipc_map *m;
  rc = xipc_map_named(&m, p->pos[0], 0, XIPC_ACCESS_READ, 0);
  if (rc != 0)
    return failure(p->cmd, p->pos[0], rc);
  const unsigned char *d = xipc_map_data(m);
  size_t n = xipc_map_size(m);
  int w = opts[0].seen ? write_hex(d, n) : write_out(d, n);
  xipc_map_close(m);
  if (w != 0 || fflush(stdout) != 0)
    return failure(p->cmd, "writing", XIPC_EIO);
  return 0;
}

/* ---- the table of commands
 * ---------------------------------------------------- */

static const command commands[] = {
    {"ls", "ls [--json]",
     "Lists this user's named xipc objects: kind, name, size in bytes,\n"
     "creator pid, age, state (live: held; idle: nobody holds it, e.g. a\n"
     "persistent queue; stale: its holders all died; unknown: the OS does\n"
     "not say) and holder pids ('?' when the OS does not tell).\n\n"
     "  --json   one JSON object {\"objects\": [...]}, each with name, kind,\n"
     "           managed, size, creator, created_ms, holders_known,\n"
     "           nholders, holders, stale\n",
     cmd_ls},
    {"stat", "stat NAME [--kind KIND] [--json]",
     "Shows one object; for a queue also its xipc_queue_info (capacity,\n"
     "max_message, max_producers, producers, count, bytes, unfinished,\n"
     "closed, persistent), except for a stale queue, which is not opened.\n\n"
     "  --kind KIND  mapping, queue, semaphore, mutex, persistent-queue or\n"
     "               listener, when several kinds share the name\n"
     "  --json       the fields of ls --json, and \"queue\": {...}\n",
     cmd_stat},
    {"rm", "rm NAME [--kind KIND] [--force]",
     "Removes the object's name. Refuses (XIPC_EBUSY) while processes hold\n"
     "it, unless --force; they keep using it. Never removes another user's\n"
     "object. Listeners, and on Windows kernel objects, cannot be removed\n"
     "(XIPC_ENOTSUP): they go away with their last handle.\n\n"
     "  --kind KIND  as for stat\n"
     "  --force      remove it even though processes hold it\n",
     cmd_rm},
    {"sweep", "sweep [--json]",
     "Removes every stale object (managed by xipc, all holders dead) and\n"
     "prints 'removed KIND NAME' for each. Never removes a live object.\n\n"
     "  --json   {\"removed\": [...]} with the fields of ls --json\n",
     cmd_sweep},
    {"put", "put QUEUE MESSAGE|- [--lines] [--timeout MS]",
     "Puts MESSAGE (its bytes, no newline) into the existing queue QUEUE;\n"
     "with '-', all of standard input as one message.\n\n"
     "  --lines       with '-': one message per line of standard input\n"
     "                (without the newline, or a CR before it)\n"
     "  --timeout MS  wait at most MS ms for room (default -1: forever)\n",
     cmd_put},
    {"get", "get QUEUE [--timeout MS] [--count N] [--raw]",
     "Takes messages from the existing queue QUEUE and prints each on one\n"
     "line, with '\\' as '\\\\' and control and non-ASCII bytes as \\xNN.\n\n"
     "  --timeout MS  wait at most MS ms for each message (default -1:\n"
     "                forever; 0: only what is queued); a timeout exits 1\n"
     "  --count N     take N messages (default 1)\n"
     "  --raw         write the bytes exactly, nothing between messages\n",
     cmd_get},
    {"send", "send PID SIGNAL",
     "Sends SIGNAL to process PID with xipc_signal_send: a handler in an\n"
     "xipc program runs, otherwise the default action ends it. SIGNAL is\n"
     "HUP, INT, QUIT (= BREAK), KILL, USR1, USR2, ALRM or TERM, with or\n"
     "without SIG, any case, or its Linux number (1 2 3 9 10 12 14 15) on\n"
     "every platform.\n",
     cmd_send},
    {"cat", "cat MAPPING [--hex]",
     "Writes the bytes of the named mapping MAPPING to standard output. A\n"
     "stale mapping is not opened (that would remove it): exit 1 with\n"
     "XIPC_EOWNERDEAD.\n\n"
     "  --hex   a hex dump: offset, 16 bytes, their ASCII\n",
     cmd_cat},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const command *find_command(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static void main_help(void) {
  printf("usage: xipc COMMAND [ARGS]   (xipc COMMAND --help for each)\n\n"
         "Named xipc objects of this user, and their messages:\n");
  for (size_t i = 0; i < NCOMMANDS; i++)
    printf("  xipc %s\n", commands[i].synopsis);
  printf("  xipc --version\n\n"
         "Exit status: 0 success, 1 failure (XIPC_E* name and message on\n"
         "stderr), 2 usage error.\n");
}

int main(int argc, char **argv) {
  char **args = argv;
  stdio_binary();
  if (xipc_args_utf8(argc, argv, &args) != 0)
    args = argv;
  if (argc < 2)
    return usage_error(NULL, "missing command");
  const char *name = args[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
      strcmp(name, "help") == 0) {
    const command *c = argc > 2 ? find_command(args[2]) : NULL;
    if (argc > 2 && c == NULL)
      return usage_error(NULL, "unknown command '%s'", args[2]);
    if (c != NULL)
      print_help(c);
    else
      main_help();
    return 0;
  }
  if (strcmp(name, "--version") == 0) {
    printf("xipc %s\n", xipc_version());
    return 0;
  }
  const command *c = find_command(name);
  if (c == NULL)
    return usage_error(
        NULL, name[0] == '-' ? "unknown option '%s'" : "unknown command '%s'",
        name);
  if (wants_help(argc - 2, args + 2)) {
    print_help(c);
    return 0;
  }
  parsed p;
  memset(&p, 0, sizeof p);
  p.cmd = c->name;
  int rc = c->run(&p, argc - 2, args + 2);
  if (fflush(stdout) != 0 && rc == 0)
    return failure(c->name, "writing", XIPC_EIO);
  return rc;
}
